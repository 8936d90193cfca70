"""Noticing what other programs (``ragdesk index`` in a terminal, a second window) wrote to the database.

SQLite's ``PRAGMA data_version`` changes when another connection commits; on
the GUI's own read connection it costs a shared-memory look and no I/O, so it
is polled once a second on the GUI thread instead of watching the file.
"""

from __future__ import annotations

import logging

import apsw

from ragdesk.ui.qt import QObject, QTimer, Signal

log = logging.getLogger(__name__)


class DatabaseWatch(QObject):
    """Emits ``changed`` (at most once per interval) after another connection committed."""

    changed = Signal()

    INTERVAL_MS = 1000

    def __init__(self, conn: apsw.Connection, parent=None) -> None:
        super().__init__(parent)
        self.conn = conn
        self._version = self._read()
        self._timer = QTimer(self)
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self.poll)

    def start(self) -> None:
        self._version = self._read()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _read(self) -> int | None:
        try:
            return self.conn.execute("PRAGMA data_version").fetchone()[0]
        except apsw.Error:  # closed, or a passing fault: look again next time
            return None

    def poll(self) -> bool:
        """Look now; True (and ``changed`` emitted) if another connection committed since the last look."""
        version = self._read()
        if version is None or version == self._version:
            return False
        self._version = version
        self.changed.emit()
        return True
