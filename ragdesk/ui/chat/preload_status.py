"""The status bar's quiet word on the background preload: "Loading model…", then "Ready"."""

from __future__ import annotations

from ragdesk.ui.qt import QLabel, QWidget


class PreloadStatus(QLabel):
    """Follows ``AppController.preload_status`` (the model, the search path, the prompt prefix)."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(controller.preload_status, parent)
        self.setObjectName("preloadStatus")
        controller.preloadChanged.connect(self.setText)
