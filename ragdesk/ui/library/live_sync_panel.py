"""The Library's live-sync line: "Watching 3 folders · last sync 14:02:11", and the recent changes."""

from __future__ import annotations

import time
from pathlib import PurePath

from ragdesk.ui.item_models import plural
from ragdesk.ui.qt import QFrame, QHBoxLayout, QLabel, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

_VERBS = {
    "added": "Added", "updated": "Updated", "moved": "Moved", "removed": "Forgot", "skipped": "Skipped",
    "failed": "Failed",
}


def status_text(live_sync) -> str:
    """What the live sync is doing, in one line."""
    if not live_sync.enabled:
        return "Live sync is off (Settings)"
    if not live_sync.folders:
        problem = live_sync.problems[0][1] if live_sync.problems else ""
        return f"Not watching any folder: {problem}" if problem else "No folders to watch yet"
    parts = [f"Watching {plural(len(live_sync.folders), 'folder')}"]
    if live_sync.pending:
        parts.append("syncing…")
    elif live_sync.last_sync is not None:
        parts.append("last sync " + time.strftime("%H:%M:%S", time.localtime(live_sync.last_sync)))
    if live_sync.problems:
        parts.append(f"{plural(len(live_sync.problems), 'folder')} not watched")
    return " · ".join(parts)


class LiveSyncPanel(QFrame):
    """Live-sync status with the list of recent changes behind a toggle."""

    def __init__(self, live_sync, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.live_sync = live_sync
        self.setObjectName("liveSync")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(2)
        row = QHBoxLayout()
        self.status = QLabel(self)
        self.status.setObjectName("liveSyncStatus")
        self.status.setWordWrap(True)
        row.addWidget(self.status, 1)
        self.toggle = QToolButton(self)
        self.toggle.setObjectName("showActivity")
        self.toggle.setText("Activity")
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolTip("Files the live sync added, updated, moved or forgot")
        row.addWidget(self.toggle)
        layout.addLayout(row)
        self.activity = QTreeWidget(self)
        self.activity.setObjectName("liveSyncActivity")
        self.activity.setHeaderLabels(["Time", "Change", "File"])
        self.activity.setRootIsDecorated(False)
        self.activity.setMaximumHeight(160)
        self.activity.hide()
        self.toggle.toggled.connect(self.activity.setVisible)
        layout.addWidget(self.activity)
        live_sync.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        ls = self.live_sync
        self.status.setText(status_text(ls))
        tip = [*ls.folders, *(f"{path}: {reason}" for path, reason in ls.problems)]
        self.status.setToolTip("\n".join(tip))
        self.toggle.setEnabled(bool(ls.activity))
        self.activity.clear()
        for a in reversed(ls.activity):  # newest first
            name = PurePath(a.path).name
            if a.change == "moved":
                name = f"{PurePath(a.detail).name} → {name}"
            item = QTreeWidgetItem([time.strftime("%H:%M:%S", time.localtime(a.when)), _VERBS.get(a.change, a.change), name])
            item.setToolTip(2, f"{a.path}\n{a.detail}" if a.detail else a.path)
            self.activity.addTopLevelItem(item)
        for column in (0, 1):
            self.activity.resizeColumnToContents(column)
