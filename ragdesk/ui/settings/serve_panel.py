"""Settings ▸ Serve to other programs: start and stop ``ragdesk serve`` inside the app.

The server (its own copy of the model, on its own engine thread, uvicorn on
another) is started and stopped by :class:`ServeWorker` on a QThread, since
loading a model takes seconds; the GUI only sends requests and shows the
address. :class:`ServeController` belongs to the main window and outlives the
Settings dialog, which shows it in a :class:`ServePanel`.
"""

from __future__ import annotations

import copy
import logging

from ragdesk.ui.errors import describe
from ragdesk.ui.qt import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QObject,
    QPushButton,
    QSpinBox,
    Qt,
    QWidget,
    Signal,
    Slot,
)
from ragdesk.ui.workers.qthreads import close_then_quit, move_to_new_thread

log = logging.getLogger(__name__)


class ServeWorker(QObject):
    """Starts and stops one RagdeskServer, on the thread it lives on."""

    started = Signal(str, str)  # address, warning ("" if none)
    stopped = Signal()
    failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.server = None

    @Slot()
    def start(self) -> None:
        """Called when the thread starts: nothing to do until asked to serve."""

    @Slot(object, object, object)
    def serve(self, config, settings, db_path) -> None:
        from ragdesk.server.runner import RagdeskServer

        self.close()
        server = RagdeskServer(config, settings, db_path=db_path)
        try:
            address = server.start()
        except Exception as exc:  # noqa: BLE001 - a port in use or a model that won't load becomes a sentence
            log.warning("serving failed", exc_info=True)
            self.failed.emit(describe(exc))
            return
        self.server = server
        self.started.emit(address, server.warning or "")

    @Slot()
    def halt(self) -> None:
        self.close()
        self.stopped.emit()

    def close(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            server.stop()

    @Slot()
    def shutdown(self) -> None:
        close_then_quit(self)


class ServeController(QObject):
    """The app's server: state for the panel, requests for the worker thread."""

    changed = Signal()
    _serve = Signal(object, object, object)
    _halt = Signal()

    def __init__(self, settings_source, db_path, model_source=lambda: None, parent=None) -> None:
        """``settings_source()`` gives the current Settings, ``model_source()`` the loaded model's name."""
        super().__init__(parent)
        self.settings_source, self.db_path, self.model_source = settings_source, db_path, model_source
        self.state = "stopped"  # stopped | starting | running | stopping
        self.address: str | None = None
        self.warning = ""
        self.error = ""
        self.worker = ServeWorker()
        self.thread = move_to_new_thread(self.worker, "ragdesk-serve")
        self._serve.connect(self.worker.serve)
        self._halt.connect(self.worker.halt)
        self.worker.started.connect(self._on_started)
        self.worker.stopped.connect(self._on_stopped)
        self.worker.failed.connect(self._on_failed)
        self.thread.start()

    @classmethod
    def for_app(cls, app_controller, parent=None) -> ServeController:
        """Serves the app's database with its current settings and loaded model."""

        def loaded_model() -> str | None:  # the file (or server model) loaded now: resolvable even if unregistered
            info = app_controller.model_info
            return str(info.path) if info is not None else None

        return cls(lambda: app_controller.settings, app_controller.db_path, loaded_model, parent)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def start(self, host: str, port: int, api_key: str | None) -> None:
        from ragdesk.server.config import ServeConfig

        if self.state in ("starting", "running"):
            return
        settings = copy.deepcopy(self.settings_source())
        config = ServeConfig(host=host.strip() or "127.0.0.1", port=int(port), api_key=api_key or None,
                             model=self.model_source() or settings.model)
        self.state, self.error, self.warning = "starting", "", ""
        self.changed.emit()
        self._serve.emit(config, settings, self.db_path)

    def stop(self) -> None:
        if self.state not in ("running", "starting"):
            return
        self.state = "stopping"
        self.changed.emit()
        self._halt.emit()

    def _on_started(self, address: str, warning: str) -> None:
        self.state, self.address, self.warning = "running", address, warning
        self.changed.emit()

    def _on_stopped(self) -> None:
        self.state, self.address = "stopped", None
        self.changed.emit()

    def _on_failed(self, message: str) -> None:
        self.state, self.address, self.error = "stopped", None, message
        self.changed.emit()

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """Stop serving and end the thread (the app is closing)."""
        from ragdesk.ui.qt import QMetaObject

        if not self.thread.isRunning():
            return True
        QMetaObject.invokeMethod(self.worker, "shutdown", Qt.ConnectionType.QueuedConnection)
        return self.thread.wait(timeout_ms)


class ServePanel(QGroupBox):
    """Host, port, key, Start/Stop and the address other programs use."""

    def __init__(self, controller: ServeController, settings, parent: QWidget | None = None) -> None:
        super().__init__("Serve to other programs", parent)
        self.setObjectName("servePanel")
        self.controller = controller
        form = QFormLayout(self)
        intro = QLabel("Other programs (anything that speaks the OpenAI API) can ask your documents through "
                       "ragdesk: retrieval with citations, LoRA modes. The server loads its own copy of the model.",
                       self)
        intro.setWordWrap(True)
        form.addRow(intro)
        self.host = QLineEdit(settings.serve_host or "127.0.0.1", self)
        self.host.setToolTip("127.0.0.1: this computer only. 0.0.0.0: every network (set a key!)")
        self.port = QSpinBox(self)
        self.port.setRange(1, 65535)
        self.port.setValue(settings.serve_port or 8756)
        address_row = QHBoxLayout()
        address_row.addWidget(self.host, 1)
        address_row.addWidget(QLabel(":", self))
        address_row.addWidget(self.port)
        form.addRow("Listen on", address_row)
        self.key = QLineEdit(self)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("none (only safe on 127.0.0.1)")
        self.key.setToolTip("Clients send it as 'Authorization: Bearer KEY'")
        form.addRow("API key", self.key)
        self.button = QPushButton(self)
        self.button.setObjectName("serveButton")
        self.button.clicked.connect(self._toggle)
        self.status = QLabel(self)
        self.status.setObjectName("serveStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.status, 1)
        form.addRow(row)
        controller.changed.connect(self._show)
        self._show()

    def _toggle(self) -> None:
        if self.controller.state in ("running", "starting"):
            self.controller.stop()
        else:
            self.controller.start(self.host.text(), self.port.value(), self.key.text().strip() or None)

    def _show(self) -> None:
        c = self.controller
        self.button.setText("Stop" if c.state in ("running", "starting") else "Start")
        self.button.setEnabled(c.state != "stopping")
        for field in (self.host, self.port, self.key):
            field.setEnabled(c.state == "stopped")
        if c.state == "running":
            text = f"Serving at <b>{c.address}/v1</b>"
            if c.warning:
                text += f"<br><span style='color:#b45309'>{c.warning}</span>"
        elif c.state == "starting":
            text = "Loading the model…"
        elif c.state == "stopping":
            text = "Stopping…"
        else:
            text = c.error or "Not serving."
        self.status.setText(text)

    def apply_to(self, settings) -> None:
        """Remember the address for next time (the key is not stored)."""
        settings.serve_host = self.host.text().strip() or "127.0.0.1"
        settings.serve_port = self.port.value()
