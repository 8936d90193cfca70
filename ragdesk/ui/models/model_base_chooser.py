"""A small dialog asking which installed model a LoRA adapter was made for."""

from __future__ import annotations

from pathlib import Path

from ragdesk.ui.qt import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget


def _adapter_shape(path: str) -> tuple[str | None, int | None]:
    """The adapter's architecture and width from its GGUF header (milliseconds); None if unreadable."""
    from ragdesk.llm.model_files import ModelError, inspect_file

    try:
        facts = inspect_file(path)
    except (ModelError, OSError):
        return None, None  # the add itself reports what is wrong with the file
    return facts.architecture, facts.meta.get("n_embd")


def fits(model, arch: str | None, n_embd: int | None) -> bool:
    """Whether ``model`` can take an adapter of this architecture and width (as far as the header says)."""
    if not arch or model.architecture != arch:
        return False
    return n_embd is None or model.meta.get("n_embd") in (None, n_embd)


class BaseModelChooser(QDialog):
    """Lists the installed models, those the adapter fits (architecture and width) first and preselected."""

    def __init__(self, adapter_path: str, models: list, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("baseModelChooser")
        self.setWindowTitle("Base model of the adapter")
        arch, n_embd = _adapter_shape(adapter_path)
        fitting = [m for m in models if fits(m, arch, n_embd)]
        others = [m for m in models if m not in fitting]
        self.combo = QComboBox(self)
        for m in fitting + others:
            self.combo.addItem(f"{m.name} ({m.architecture or 'unknown architecture'})", m.name)
        self.combo.addItem(f"Not tied to a model (any {arch or 'matching'} model)", None)
        self.combo.setCurrentIndex(0 if fitting else self.combo.count() - 1)
        form = QFormLayout(self)
        intro = QLabel(
            f"Which model was <b>{Path(adapter_path).name}</b> trained for? ragdesk offers the adapter with "
            "that model and checks that they fit.", self)
        intro.setWordWrap(True)
        form.addRow(intro)
        form.addRow("Base model", self.combo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def base_model(self) -> str | None:
        """The chosen model's registry name, or None for "not tied to a model"."""
        return self.combo.currentData()
