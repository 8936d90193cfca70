"""Progress and cancellation inside one file, for readers with long loops (OCR).

Most files are read in milliseconds and the indexer reports progress between
files. A 500-page scan takes minutes: its reader reports each page through a
``Reading`` and stops between pages when the user cancels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ragdesk.ingest.errors import Cancelled


@dataclass
class Reading:
    """Callbacks for one file: ``progress("OCR page 3/50")``, ``cancel() -> bool``."""

    progress: Callable[[str], None] | None = None
    cancel: Callable[[], bool] | None = None

    def step(self, detail: str) -> None:
        """Report ``detail``; raise Cancelled first if the user asked to stop."""
        if self.cancel is not None and self.cancel():
            raise Cancelled()
        if self.progress is not None:
            self.progress(detail)


QUIET = Reading()  # for callers that neither show progress nor cancel
