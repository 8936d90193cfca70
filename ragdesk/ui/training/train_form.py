"""The choices of a training run: collection, base model, adapter name, method, rank and length.

A plain form (no business logic): it shows what it is given, checks the name
as it is typed and turns the choices into a
:class:`ragdesk.training.job.TrainRequest`. :mod:`ragdesk.ui.training.train_dialog` runs it.
"""

from __future__ import annotations

import re

from ragdesk.llm.registry import DEFAULT_MODEL
from ragdesk.training.job import NAME_RE  # the core's rule for adapter (and run folder) names
from ragdesk.ui.item_models import plural
from ragdesk.ui.look import theme
from ragdesk.ui.qt import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPalette,
    QPushButton,
    QRadioButton,
    QSpinBox,
    Qt,
    QWidget,
    Signal,
)

METHODS = {  # method -> (button, one-line explanation)
    "continued": ("Continued", "Learns the collection's text itself; the quickest to prepare."),
    "qa": ("Questions", "Learns to answer questions the model writes from the chunks."),
    "both": ("Both", "The text and the generated questions, mixed."),
}


def name_problem(name: str, names, runs) -> str | None:
    """Why ``name`` can't name a new adapter (``names``: registered; ``runs``: earlier runs), or None."""
    name = name.strip()
    if not name:
        return "Give the adapter a name."
    if not NAME_RE.match(name):
        return "Use only letters, digits and . _ - + @ in the name (no spaces or slashes)."
    if name in names:
        return f"A model or adapter named '{name}' already exists: choose another name."
    if name in runs:
        return "A run with this name exists: resume it below, or choose another name."
    return None


def muted_label(text: str, parent: QWidget, wrap: bool = True) -> QLabel:
    """Secondary text in the palette's muted colour."""
    label = QLabel(text, parent)
    label.setWordWrap(wrap)
    palette, muted = label.palette(), theme.muted_text(theme.app_palette())
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):  # disabled keeps its own grey
        palette.setColor(group, QPalette.ColorRole.WindowText, muted)
    label.setPalette(palette)
    return label


class TrainForm(QWidget):
    """The run's choices; ``changed`` fires whenever one of them does."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_edited = False  # the user typed a name: stop suggesting one
        form = QFormLayout(self)
        form.setContentsMargins(0, 6, 0, 0)
        self.collection_box = QComboBox(self)
        self.collection_box.setObjectName("trainCollection")
        form.addRow("Collection", self.collection_box)

        self.base_box = QComboBox(self)
        self.base_box.setObjectName("trainBase")
        self.base_box.setEditable(True)
        self.base_box.setToolTip("A GGUF model (dequantized once for training), or a Hugging Face model folder "
                                 "or hub id, whose adapter is then for the model in use")
        self.folder_button = QPushButton("Folder…", self)
        self.folder_button.setToolTip("Train on a Hugging Face model folder (config.json and safetensors)")
        row = QHBoxLayout()
        row.addWidget(self.base_box, 1)
        row.addWidget(self.folder_button)
        form.addRow("Base model", row)

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("trainName")
        self.name_edit.setPlaceholderText("e.g. handbook-lora")
        self.name_hint = muted_label("", self)
        form.addRow("Adapter name", self.name_edit)
        form.addRow("", self.name_hint)

        methods = QGridLayout()
        methods.setColumnStretch(1, 1)
        methods.setHorizontalSpacing(12)
        self.method_group = QButtonGroup(self)
        self.method_buttons: dict[str, QRadioButton] = {}
        for i, (method, (title, explanation)) in enumerate(METHODS.items()):
            button = QRadioButton(title, self)
            button.setObjectName(f"method_{method}")
            self.method_group.addButton(button)
            self.method_buttons[method] = button
            methods.addWidget(button, i, 0, Qt.AlignmentFlag.AlignTop)
            methods.addWidget(muted_label(explanation, self, wrap=False), i, 1)
        self.method_buttons["continued"].setChecked(True)
        form.addRow("Method", methods)

        self.rank = QSpinBox(self)
        self.rank.setRange(1, 256)
        self.rank.setValue(8)
        self.rank.setToolTip("LoRA rank: higher learns more and makes a bigger adapter")
        self.epochs_radio, self.steps_radio = QRadioButton("Epochs", self), QRadioButton("Steps", self)
        self.epochs, self.steps = QSpinBox(self), QSpinBox(self)
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(3)
        self.epochs.setToolTip("Passes over the data (a small collection is repeated to at least 40 steps)")
        self.steps.setRange(1, 100_000)
        self.steps.setValue(200)
        self.steps.setToolTip("Stop after exactly this many optimizer steps")
        self.epochs_radio.setChecked(True)
        rank = QHBoxLayout()
        rank.addWidget(self.rank)
        rank.addStretch(1)
        form.addRow("Rank", rank)
        length = QHBoxLayout()
        for widget in (self.epochs_radio, self.epochs, self.steps_radio, self.steps):
            length.addWidget(widget)
        length.addStretch(1)
        form.addRow("Length", length)
        self._sync_length()

        self.collection_box.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.base_box.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.name_edit.textEdited.connect(lambda _t: setattr(self, "name_edited", True))
        self.name_edit.textChanged.connect(lambda _t: self.changed.emit())
        self.folder_button.clicked.connect(self._choose_folder)
        self.epochs_radio.toggled.connect(lambda _on: self._sync_length())

    def _sync_length(self) -> None:
        self.epochs.setEnabled(self.epochs_radio.isChecked())
        self.steps.setEnabled(self.steps_radio.isChecked())

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A Hugging Face model folder")
        if folder:
            self.base_box.setEditText(folder)

    # -- what is offered ------------------------------------------------------------

    def show_collections(self, infos, current: str) -> None:
        """``infos``: CollectionInfo list; ``current`` is chosen unless the user chose another."""
        current = self.collection_box.currentData() or current
        counts = {info.name: info.chunks for info in infos}
        box = self.collection_box
        box.blockSignals(True)
        box.clear()
        for name in sorted(set(counts) | {current}):
            box.addItem(f"{name}  ({plural(counts[name], 'chunk')})" if counts.get(name) else f"{name}  (empty)", name)
        box.setCurrentIndex(max(0, box.findData(current)))
        box.blockSignals(False)

    def show_models(self, models, default: str | None) -> None:
        """Registered models (ModelEntry); ``default`` (the model in use) is chosen unless one was typed."""
        box = self.base_box
        typed = box.currentText().strip() if box.count() else ""
        box.blockSignals(True)
        box.clear()
        for entry in models:
            box.addItem(entry.name + ("  (built-in)" if entry.builtin else ""), entry.name)
        default = default or DEFAULT_MODEL
        if typed:
            i = box.findText(typed)
            box.setCurrentIndex(i) if i >= 0 else box.setEditText(typed)  # keep what the user typed
        elif box.findData(default) >= 0:
            box.setCurrentIndex(box.findData(default))
        else:
            box.setEditText(str(default))  # the model in use, opened by path
        box.blockSignals(False)

    def suggest_name(self, taken) -> None:
        """``<collection>-lora`` (numbered if ``taken``), until the user types a name."""
        if self.name_edited:
            return
        stem = re.sub(r"[^A-Za-z0-9._+@-]+", "-", self.collection() or "").strip("-.") or "collection"
        name, n = f"{stem}-lora", 2
        while name in taken:
            name, n = f"{stem}-lora-{n}", n + 1
        if name != self.name_edit.text():
            self.name_edit.setText(name)

    # -- what was chosen -------------------------------------------------------------

    def collection(self) -> str | None:
        return self.collection_box.currentData()

    def name(self) -> str:
        return self.name_edit.text().strip()

    def method(self) -> str:
        return next(m for m, b in self.method_buttons.items() if b.isChecked())

    def base_choice(self, model_in_use: str | None) -> tuple[str | None, str | None]:
        """(base, GGUF the adapter is for): a GGUF is its own target, anything else means the model in use."""
        text = self.base_box.currentText().strip()
        i = self.base_box.findText(text)
        if i >= 0:
            return self.base_box.itemData(i), None
        if text.lower().endswith(".gguf"):
            return text, None
        return text or None, model_in_use

    def request(self, model_in_use: str | None):
        """The TrainRequest the form describes."""
        from ragdesk.training.job import TrainRequest

        base, model = self.base_choice(model_in_use)
        options = {"rank": self.rank.value()}
        if self.steps_radio.isChecked():
            options["max_steps"] = self.steps.value()
        else:
            options["epochs"] = self.epochs.value()
        return TrainRequest(name=self.name(), collection=self.collection(), base=base, model=model,
                            method=self.method(), options=options)
