"""Turning exceptions into sentences, and showing them without stopping the app.

Dialogs are opened with ``open()`` (window-modal, non-blocking) rather than
``exec()``, so a worker's failure never freezes the event loop and tests can
find the visible box and press its buttons.
"""

from __future__ import annotations

import errno
import logging
from typing import Callable

import apsw

from ragdesk.ui.logging_setup import log_file
from ragdesk.ui.qt import QDesktopServices, QMessageBox, QUrl, QWidget

log = logging.getLogger(__name__)


def _known_errors() -> tuple[type[BaseException], ...]:
    """Core exception classes whose str() is already a sentence for the user."""
    from ragdesk.chat.conversations import ConversationNotFound
    from ragdesk.chat.modes import ModeError
    from ragdesk.db import DatabaseError
    from ragdesk.embedder import EmbeddingModelError
    from ragdesk.llm.gguf_info import AdapterError, ModelLoadError
    from ragdesk.llm.registry import ModelError
    from ragdesk.store.collections import CollectionError
    from ragdesk.training import TrainingError

    known: list[type[BaseException]] = [
        ConversationNotFound, ModeError, DatabaseError, EmbeddingModelError, AdapterError,
        ModelLoadError, ModelError, CollectionError, TrainingError,
    ]
    try:  # engine-only errors (busy, not loaded) live with the engine
        from ragdesk.llm.engine import EngineBusyError, NotLoadedError, PromptTooLongError

        known += [EngineBusyError, NotLoadedError, PromptTooLongError]
    except ImportError:  # pragma: no cover
        pass
    try:
        from ragdesk.llm.download import DownloadError

        known.append(DownloadError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(known)


def sentence(text: str) -> str:
    """Capitalised, with a full stop: how every message in a dialog reads."""
    text = " ".join(str(text).split())
    if not text:
        return text
    first = text.split()[0]
    if first.isalpha() and first != "ragdesk":  # never "X.gguf" or "/Home": names keep their case
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def describe(exc: BaseException) -> str:
    """One clear sentence for ``exc``: what went wrong and, where we know it, what to do."""
    if isinstance(exc, apsw.FullError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        return "The disk is full: free some space, then try again."
    if isinstance(exc, (apsw.BusyError, apsw.LockedError)):
        return (
            "The database is locked by another program (perhaps another ragdesk window or command): "
            "close it, then try again."
        )
    if isinstance(exc, apsw.CorruptError):
        return "The database file is damaged; restore it from a backup or move it away to start afresh."
    if isinstance(exc, apsw.ReadOnlyError) or (isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EROFS)):
        return f"ragdesk may not write there: {exc}. Check the folder's permissions."
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory: try a smaller model or a shorter context length."
    if isinstance(exc, _known_errors()) or isinstance(exc, ValueError):
        return sentence(str(exc))
    if isinstance(exc, OSError):
        return sentence(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    return sentence(f"something unexpected went wrong ({type(exc).__name__}: {exc})")


def show_error(parent: QWidget | None, message: str, title: str = "ragdesk") -> QMessageBox:
    """Show ``message`` with the log file's location; returns the (already open) box."""
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    location = log_file()
    box.setInformativeText(f"Details are in the log file:\n{location}")
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    open_logs = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
    open_logs.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(location.parent))))
    box.finished.connect(box.deleteLater)  # many errors must not pile up hidden boxes
    box.open()
    log.warning("error shown to the user: %s", message)
    return box


def confirm(
    parent: QWidget | None, text: str, on_yes: Callable[[], None], *, yes_text: str = "OK", title: str = "ragdesk"
) -> QMessageBox:
    """Ask before a destructive action, without blocking: ``on_yes`` runs if the user agrees."""
    box = QMessageBox(parent)
    box.setObjectName("confirmDialog")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(yes)

    def done(_result: int) -> None:
        if box.clickedButton() is yes:
            on_yes()

    box.finished.connect(done)
    box.finished.connect(box.deleteLater)
    box.open()
    return box
