"""One exception base for every failure a user can act on, and one mapper to messages.

Every core exception whose text is meant for people derives from
:class:`RagdeskError` (keeping its own name, module and older base such as
``ValueError``). :func:`user_message` is the one place that decides what a
failure reads as: the CLI prints it after ``Error:``, the app shows it as a
sentence in a dialog (see :func:`describe`). Anything it doesn't know is a bug:
the CLI lets its traceback through and the app says "something unexpected".
"""

from __future__ import annotations

import errno


class RagdeskError(Exception):
    """A failure the user can understand and fix; ``str()`` says what and, if known, what to do."""

    title = "ragdesk"  # a dialog's title when the caller has none of its own
    hint: str | None = None  # what to do, when the message itself doesn't say

    @property
    def user_message(self) -> str:
        """The message shown to the user: the text, then the hint if there is one."""
        text = str(self)
        return f"{text} ({self.hint})" if self.hint else text


def _environment_message(exc: BaseException) -> str | None:
    """Messages for the machine's own limits (disk, locks, permissions, memory)."""
    try:
        import apsw
    except ImportError:  # pragma: no cover - apsw is a dependency
        apsw = None
    if (apsw and isinstance(exc, apsw.FullError)) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return "The disk is full: free some space, then try again."
    if apsw and isinstance(exc, (apsw.BusyError, apsw.LockedError)):
        return ("The database is locked by another program (perhaps another ragdesk window or command): "
                "close it, then try again.")
    if apsw and isinstance(exc, apsw.CorruptError):
        return "The database file is damaged; restore it from a backup or move it away to start afresh."
    if (apsw and isinstance(exc, apsw.ReadOnlyError)) or (
            isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EROFS)):
        return f"ragdesk may not write there: {exc}. Check the folder's permissions."
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory: try a smaller model or a shorter context length."
    return None


def user_message(exc: BaseException, *, os_errors: bool = True) -> str | None:
    """What ``exc`` means to the user, or None if it is unexpected (a bug).

    A ``RagdeskError`` or ``ValueError`` (bad input) speaks for itself; the
    machine's limits get a fixed sentence; with ``os_errors`` any other
    ``OSError`` reads as its reason and file name.
    """
    known = _environment_message(exc)
    if known is not None:
        return known
    if isinstance(exc, RagdeskError):
        return exc.user_message
    if isinstance(exc, ValueError):
        return str(exc)
    if os_errors and isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return None


def describe(exc: BaseException, title: str | None = None) -> tuple[str, str]:
    """``(title, message)`` for showing ``exc``; an unexpected error is named as such."""
    message = user_message(exc)
    if message is None:
        message = f"something unexpected went wrong ({type(exc).__name__}: {exc})"
    return title or getattr(exc, "title", None) or "ragdesk", message


__all__ = ["RagdeskError", "describe", "user_message"]
