"""The mode switch, always in view, with the collection, model and adapter pickers beside it.

A mode that can't run is disabled with a tooltip saying why (the reason comes
from ``ChatSession.unavailable_reason`` via the model worker). Switching mode
or adapter applies to the next message and never reloads the model.
"""

from __future__ import annotations

from ragdesk.chat.modes import MODE_ORDER, MODES
from ragdesk.ui.errors import sentence
from ragdesk.ui.look import icons
from ragdesk.ui.look.style import SPACE
from ragdesk.ui.qt import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSize,
    QSizePolicy,
    Qt,
    QToolButton,
    QWidget,
    Signal,
)


class ModeBar(QWidget):
    """Mode buttons (Ctrl+1..4) and the pickers; all state comes from the controller."""

    manageModelsRequested = Signal()

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("modeBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(SPACE["md"], SPACE["sm"], SPACE["md"], SPACE["sm"])
        layout.setSpacing(6)

        # The modes as one segmented control: a track holding a button per mode, each with its icon.
        self.segments = QFrame(self)
        self.segments.setObjectName("modeSegments")
        segments = QHBoxLayout(self.segments)
        segments.setContentsMargins(3, 3, 3, 3)
        segments.setSpacing(2)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for i, mode in enumerate(MODE_ORDER, start=1):
            button = QToolButton(self.segments)
            button.setObjectName(f"mode_{mode}")
            button.setText(MODES[mode].label)
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            icons.set_icon(button, mode, size=16)
            button.setProperty("shortcut_hint", f"Ctrl+{i}")
            button.clicked.connect(lambda _checked=False, m=mode: self._choose(m))
            self.group.addButton(button)
            self.buttons[mode] = button
            segments.addWidget(button)
        layout.addWidget(self.segments)

        layout.addSpacing(8)
        self._labels = [QLabel("Collection", self), QLabel("Model", self), QLabel("Adapter", self)]
        layout.addWidget(self._labels[0])
        self.collection_box = QComboBox(self)
        self.collection_box.setObjectName("collectionPicker")
        self.collection_box.setMinimumContentsLength(6)
        self.collection_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.collection_box.setToolTip("The collection RAG and hybrid answers retrieve from")
        self.collection_box.activated.connect(self._collection_chosen)
        self.collection_box.setMaximumWidth(220)
        layout.addWidget(self.collection_box, 1)  # pickers grow into spare width, then the stretch does

        layout.addSpacing(8)
        layout.addWidget(self._labels[1])
        self.model_box = QComboBox(self)
        self.model_box.setObjectName("modelPicker")
        self.model_box.setMinimumContentsLength(9)
        self.model_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setPlaceholderText("No model loaded")
        self.model_box.setToolTip("The language model that writes the answers")
        self.model_box.activated.connect(self._model_chosen)
        self.model_box.setMaximumWidth(300)
        layout.addWidget(self.model_box, 2)
        self.loading = QProgressBar(self)
        self.loading.setRange(0, 0)  # busy indicator
        self.loading.setTextVisible(False)
        self.loading.setFixedWidth(48)
        self.loading.setMaximumHeight(10)
        self.loading.setVisible(False)
        layout.addWidget(self.loading)

        layout.addWidget(self._labels[2])
        self.adapter_box = QComboBox(self)
        self.adapter_box.setObjectName("adapterPicker")
        self.adapter_box.setMinimumContentsLength(7)
        self.adapter_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.adapter_box.setToolTip("The LoRA adapter merged-LoRA and hybrid answers use")
        self.adapter_box.activated.connect(self._adapter_chosen)
        self.adapter_box.setMaximumWidth(240)
        layout.addWidget(self.adapter_box, 1)

        self.models_button = QToolButton(self)
        self.models_button.setObjectName("manageModels")
        self.models_button.setText("Models…")
        self.models_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icons.set_icon(self.models_button, "models", size=16)
        self.models_button.setToolTip("Download, add or remove models and LoRA adapters")
        self.models_button.clicked.connect(self.manageModelsRequested)
        layout.addWidget(self.models_button)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

        c = controller
        for signal in (c.modelChanged, c.catalogChanged, c.adapterChanged, c.collectionsChanged, c.collectionChanged):
            signal.connect(self.refresh)
        c.availabilityChanged.connect(self.refresh_modes)
        c.modeChanged.connect(self.refresh_modes)
        self.refresh()

    # -- narrow windows: the pickers' captions go first, then the modes' words (tooltips remain) --

    def _labels_width(self) -> int:
        return sum(label.sizeHint().width() + self.layout().spacing() for label in self._labels)

    def _words_width(self) -> int:
        """What the mode buttons' words take beside their icons (text, and the gap before it)."""
        return sum(b.fontMetrics().horizontalAdvance(b.text()) + 6 for b in self.buttons.values())

    def _full_width(self) -> int:
        """The minimum width with every caption and word shown."""
        width = super().minimumSizeHint().width()
        if self._labels[0].isHidden():
            width += self._labels_width()
        if self._icons_only():
            width += self._words_width()
        return width

    def _icons_only(self) -> bool:
        return next(iter(self.buttons.values())).toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(self._full_width() - self._labels_width() - self._words_width(), hint.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        full = self._full_width()
        captions = self.width() >= full
        words = self.width() >= full - self._labels_width()
        changed = False
        if captions == self._labels[0].isHidden():
            for label in self._labels:
                label.setVisible(captions)
            changed = True
        if words == self._icons_only():
            look = Qt.ToolButtonStyle.ToolButtonTextBesideIcon if words else Qt.ToolButtonStyle.ToolButtonIconOnly
            for button in self.buttons.values():
                button.setToolButtonStyle(look)
            changed = True
        if changed:  # the sizes the layouts cached are stale now
            self.segments.layout().invalidate()
            self.segments.updateGeometry()

    # -- user actions ------------------------------------------------------

    def _choose(self, mode: str) -> None:
        if not self.controller.set_mode(mode):
            self.refresh_modes()  # refused: put the check back where it was

    def choose_mode(self, mode: str) -> bool:
        """Keyboard shortcut entry point: the same as clicking the button if it is enabled."""
        button = self.buttons.get(mode)
        if button is None or not button.isEnabled():
            return False
        button.click()
        return True

    def _model_chosen(self, index: int) -> None:
        name = self.model_box.itemData(index)
        if name and name != self.controller.model_name:
            self.controller.load_model(name)

    def _adapter_chosen(self, index: int) -> None:
        self.controller.set_adapter(self.adapter_box.itemData(index))

    def _collection_chosen(self, index: int) -> None:
        name = self.collection_box.itemData(index)
        if name:
            self.controller.set_collection(name)

    # -- reflecting state --------------------------------------------------

    def refresh(self, *_args) -> None:
        self._fill_collections()
        self._fill_models()
        self._fill_adapters()
        self.refresh_modes()

    def refresh_modes(self, *_args) -> None:
        c = self.controller
        for mode, button in self.buttons.items():
            reason = c.unavailable_reason(mode)
            button.setEnabled(reason is None)
            hint = button.property("shortcut_hint")
            if reason:
                button.setToolTip(f"{MODES[mode].label} is unavailable: {sentence(reason)}")
            else:
                button.setToolTip(f"{MODES[mode].help} ({hint})")
            button.setChecked(mode == c.mode)

    def _fill_collections(self) -> None:
        c = self.controller
        names = [info.name for info in c.collections()]
        if c.collection not in names:
            names.append(c.collection)  # the default collection before anything was indexed
        box = self.collection_box
        box.clear()
        for name in sorted(names):
            box.addItem(name, name)
        box.setCurrentIndex(box.findData(c.collection))

    def _fill_models(self) -> None:
        c = self.controller
        box = self.model_box
        box.clear()
        for entry in c.models:
            label = entry.name + ("  (built-in)" if entry.builtin else "")
            box.addItem(label, entry.name)
            box.setItemData(box.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole)
        loading = c.model_state == "loading"
        self.loading.setVisible(loading)
        if loading:
            box.setPlaceholderText(f"Loading {c.loading_name or 'model'}…")
            box.setCurrentIndex(-1)
        elif c.model_state == "ready" and c.model_name:
            i = box.findData(c.model_name)
            if i < 0:  # a file opened by path, not registered
                box.addItem(c.model_name, c.model_name)
                i = box.count() - 1
            box.setCurrentIndex(i)
        else:
            box.setPlaceholderText("No model loaded")
            box.setCurrentIndex(-1)
        box.setEnabled(not loading)

    def _fill_adapters(self) -> None:
        c = self.controller
        box = self.adapter_box
        box.clear()
        box.addItem("No adapter", None)
        for entry in c.adapter_entries:
            box.addItem(entry.name, entry.name)
        if c.adapter and box.findData(c.adapter) < 0:
            box.addItem(c.adapter, c.adapter)
        box.setCurrentIndex(max(0, box.findData(c.adapter)) if c.adapter else 0)
