"""Models ▸ Engine: answers generated on this computer, or on a server at URL with a key.

Retrieval, citations and conversations stay on this computer either way; only
generation moves. "Test connection" asks the server for its models on a worker
thread and says what it found (kind of server, model, context size, how tokens
are counted). "Use" hands the choice to the app, which saves it and switches
the chat engine.
"""

from __future__ import annotations

import logging

from ragdesk.ui.errors import describe
from ragdesk.ui.qt import (
    QButtonGroup,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMetaObject,
    QObject,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
    Slot,
)
from ragdesk.ui.workers.qthreads import close_then_quit, move_to_new_thread

log = logging.getLogger(__name__)


class EngineProbe(QObject):
    """Connects to a server once (on its own thread) and reports what it is."""

    result = Signal(bool, str)  # reachable, sentence

    @Slot()
    def start(self) -> None:
        """Called when the thread starts: nothing to do until asked."""

    @Slot(object)
    def probe(self, choice) -> None:
        from ragdesk.llm.backends import create_engine
        from ragdesk.settings import Settings

        try:
            engine = create_engine(Settings(), choice)
            try:
                info = engine.load(choice.model)
                facts = engine.facts
                text = (f"Connected: {facts.kind} server, model {info.name}, context {engine.n_ctx:,} tokens"
                        + (" (from the server)" if facts.n_ctx else " (from Settings: the server does not say)")
                        + f", tokens counted {'by the server' if engine.token_counting != 'estimate' else 'by estimate'}.")
            finally:
                engine.close()
        except Exception as exc:  # noqa: BLE001 - every failure is a sentence in the panel
            self.result.emit(False, describe(exc))
            return
        self.result.emit(True, text)

    def close(self) -> None:
        pass

    @Slot()
    def shutdown(self) -> None:
        close_then_quit(self)


def format_adapters(mapping: dict) -> str:
    return "\n".join(f"{local} = {remote}" for local, remote in sorted(mapping.items()))


def parse_adapters(text: str) -> dict[str, str]:
    """``local = server`` lines (blank lines ignored) -> dict; ValueError names a bad line."""
    from ragdesk.llm.remote import parse_adapter_map

    pairs = {}
    for line in text.splitlines():
        if line.strip():
            local, sep, remote = line.partition("=")
            if not sep:
                raise ValueError(f"'{line.strip()}' is not 'local adapter = server name'")
            pairs[local.strip()] = remote.strip()
    parse_adapter_map(pairs)  # checks the server side (a name, or lora:ID)
    return pairs


class EnginePanel(QWidget):
    """The choice of where answers are generated; ``engineChosen`` carries an EngineChoice."""

    engineChosen = Signal(object)
    _probe = Signal(object)

    def __init__(self, settings, parent: QWidget | None = None) -> None:
        from ragdesk.llm.backends import EngineChoice

        super().__init__(parent)
        self.setObjectName("enginePanel")
        current = EngineChoice.from_settings(settings)
        layout = QVBoxLayout(self)
        intro = QLabel("Where answers are generated. Your documents, their retrieval, citations and "
                       "conversations stay on this computer either way; with a server, only the prompt "
                       "(question and retrieved passages) is sent to it.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.local = QRadioButton("Answers are generated on this computer", self)
        self.remote = QRadioButton("Answers are generated on a server (OpenAI-compatible: llama.cpp, vLLM, "
                                   "LM Studio, Ollama /v1)", self)
        group = QButtonGroup(self)
        group.addButton(self.local)
        group.addButton(self.remote)
        layout.addWidget(self.local)
        layout.addWidget(self.remote)

        form = QFormLayout()
        self.url = QLineEdit(current.url if current.remote else "", self)
        self.url.setPlaceholderText("http://127.0.0.1:8080/v1")
        form.addRow("At", self.url)
        self.key = QLineEdit(current.key or "", self)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("none")
        form.addRow("With key", self.key)
        self.model = QLineEdit(current.model or "", self)
        self.model.setPlaceholderText("the first model the server lists")
        form.addRow("Server's model", self.model)
        self.adapters = QPlainTextEdit(format_adapters(current.adapters), self)
        self.adapters.setPlaceholderText("papers-lora = papers        (vLLM --lora-modules, LM Studio)\n"
                                         "papers-lora = lora:0        (llama.cpp's server --lora)")
        self.adapters.setFixedHeight(72)
        form.addRow("Adapters (local = server)", self.adapters)
        self.timeout = QDoubleSpinBox(self)
        self.timeout.setRange(1, 3600)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(current.timeout)
        self.timeout.setToolTip("How long the server may stay silent before ragdesk gives up")
        form.addRow("Give up after", self.timeout)
        self.server_fields = QWidget(self)
        self.server_fields.setLayout(form)
        layout.addWidget(self.server_fields)

        row = QHBoxLayout()
        self.test_button = QPushButton("Test connection", self)
        self.test_button.setObjectName("testEngine")
        self.use_button = QPushButton("Use", self)
        self.use_button.setObjectName("useEngine")
        self.status = QLabel(self)
        self.status.setObjectName("engineStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.test_button)
        row.addWidget(self.use_button)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        layout.addStretch(1)

        (self.remote if current.remote else self.local).setChecked(True)
        self.local.toggled.connect(self._update)
        self.test_button.clicked.connect(self.test_connection)
        self.use_button.clicked.connect(self.use)
        self._worker = EngineProbe()
        self._thread = move_to_new_thread(self._worker, "ragdesk-engine-probe")
        self._probe.connect(self._worker.probe)
        self._worker.result.connect(self._on_result)
        self._thread.start()
        self._update()

    def _update(self) -> None:
        self.server_fields.setEnabled(self.remote.isChecked())
        self.test_button.setEnabled(self.remote.isChecked())

    def choice(self):
        """The EngineChoice the fields describe; ValueError for a bad URL or mapping."""
        from ragdesk.llm.backends import EngineChoice

        if self.local.isChecked():
            return EngineChoice()
        url = self.url.text().strip()
        if not url.startswith(("http://", "https://")):
            raise ValueError("enter the server's address, starting with http:// or https://")
        return EngineChoice(url=url, key=self.key.text().strip() or None, model=self.model.text().strip() or None,
                            adapters=parse_adapters(self.adapters.toPlainText()), timeout=self.timeout.value())

    def _checked_choice(self):
        """The choice, or None after saying what is wrong with the fields."""
        try:
            return self.choice()
        except ValueError as exc:
            self.status.setText(str(exc))
            return None

    def test_connection(self) -> None:
        if (choice := self._checked_choice()) is None:
            return
        self.status.setText(f"Connecting to {choice.url}…")
        self.test_button.setEnabled(False)
        self._probe.emit(choice)

    def _on_result(self, ok: bool, text: str) -> None:
        self.status.setText(text)
        self._update()

    def use(self) -> None:
        if (choice := self._checked_choice()) is None:
            return
        self.status.setText(f"Answers will be generated on {choice.describe()}.")
        self.engineChosen.emit(choice)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """End the probe thread (the dialog is closing)."""
        if not self._thread.isRunning():
            return True
        QMetaObject.invokeMethod(self._worker, "shutdown", Qt.ConnectionType.QueuedConnection)
        return self._thread.wait(timeout_ms)


def apply_choice(settings, choice):
    """A copy of ``settings`` that generates answers where ``choice`` says."""
    import copy

    new = copy.deepcopy(settings)
    if not choice.remote:
        new.engine_url = None  # the server's details stay for the next time it is chosen
        return new
    new.engine_url, new.engine_key, new.engine_model = choice.url, choice.key, choice.model
    new.engine_adapters, new.engine_timeout = dict(choice.adapters), float(choice.timeout)
    return new
