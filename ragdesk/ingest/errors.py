"""The one exception ingestion raises for a file it cannot index."""

from __future__ import annotations

from ragdesk.errors import RagdeskError


class SkipFile(RagdeskError):
    """A file that can't be indexed; ``str(exc)`` is a one-line reason for the user."""

    def __init__(self, reason: str):
        # Keep the message to one line whatever a parser library put in it.
        reason = " ".join(str(reason).split())
        super().__init__(reason[:300])


class Cancelled(Exception):
    """The user cancelled while a long file (an OCR'd scan) was being read."""
