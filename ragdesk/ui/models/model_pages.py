"""The two pages of the Models dialog: what is installed, and what can be downloaded.

They only display registry entries and the catalogue and expose their buttons;
the dialog (:mod:`ragdesk.ui.models.model_manager`) decides what the buttons do.
"""

from __future__ import annotations

from ragdesk.llm import catalogue, machine_fit
from ragdesk.llm.registry import DEFAULT_MODEL
from ragdesk.ui.item_models import human_size, plural
from ragdesk.ui.look import icons
from ragdesk.ui.qt import (
    QAbstractItemView,
    QFont,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

NAME_ROLE = Qt.ItemDataRole.UserRole + 1  # an item's registry or catalogue name
INSTALLED_COLUMNS = ("Name", "Kind", "Size", "Architecture", "Licence", "Source")
CATALOGUE_COLUMNS = ("Model", "Parameters", "Download", "Memory", "Context", "Licence", "Status")
STATUS = CATALOGUE_COLUMNS.index("Status")
INSTALLED_MARK = "✓ Installed"
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def source_text(entry) -> str:
    """Where an entry came from, in words."""
    if entry.builtin:
        return f"Built in ({entry.source.split(':', 1)[-1]})"
    if entry.source.startswith("hf:"):
        return "Hugging Face · " + (entry.meta.get("repo_id") or entry.source[3:])
    return {"local": "Local file", "file": "Local file"}.get(entry.source, entry.source)


def kind_text(entry) -> str:
    if entry.kind == "adapter":
        return f"LoRA adapter for {entry.base_model}" if entry.base_model else "LoRA adapter"
    return "Reranker" if entry.kind == "reranker" else "Model"


def _tree(parent: QWidget, columns, name: str) -> QTreeWidget:
    tree = QTreeWidget(parent)
    tree.setObjectName(name)
    tree.setHeaderLabels(list(columns))
    tree.setRootIsDecorated(False)
    tree.setAlternatingRowColors(True)
    tree.setUniformRowHeights(True)
    tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    tree.setStyleSheet("QTreeView::item { padding: 3px 6px 3px 2px; }")
    tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    tree.header().setStretchLastSection(True)
    return tree


def _names(tree: QTreeWidget):
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        yield item, item.data(0, NAME_ROLE)


class InstalledPage(QWidget):
    """Installed models and adapters (built-ins in bold), the add buttons, a summary, Delete."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        self.tree = _tree(self, INSTALLED_COLUMNS, "installedModels")
        box.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.add_model_button = QPushButton("Add model file…", self)
        self.add_model_button.setToolTip("Register a GGUF model on this computer (it stays where it is)")
        self.add_adapter_button = QPushButton("Add LoRA adapter…", self)
        self.add_adapter_button.setToolTip("Register a LoRA adapter (GGUF) and the model it was made for")
        self.summary = QLabel(self)
        self.summary.setObjectName("modelSummary")
        self.delete_button = QPushButton("Delete…", self)
        icons.set_icon(self.delete_button, "trash", "text", 16)
        row.addWidget(self.add_model_button)
        row.addWidget(self.add_adapter_button)
        row.addSpacing(12)
        row.addWidget(self.summary, 1)
        row.addWidget(self.delete_button)
        box.addLayout(row)

    def show_entries(self, entries: list, select: str | None = None) -> None:
        """Fill the list (keeping the selection, or selecting ``select``) and the summary."""
        selected = select or self.selected_name()
        self.tree.clear()
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for e in entries:
            name = f"{e.name}  (default)" if e.name == DEFAULT_MODEL else e.name
            size = human_size(e.size) if e.exists or e.builtin else "file missing"
            row = [name, kind_text(e), size, e.architecture or "?", e.license or "", source_text(e)]
            item = QTreeWidgetItem(row)
            item.setData(0, NAME_ROLE, e.name)
            item.setTextAlignment(2, _RIGHT)
            tip = f"{e.path}" + ("\nBuilt in: ships with ragdesk, works offline." if e.builtin else "")
            if e.builtin and not e.meta.get("ready", True):
                tip += "\nAssembled from its package on first use."
            for column in range(len(row)):
                item.setToolTip(column, tip)
            if e.builtin:
                item.setFont(0, bold)
            self.tree.addTopLevelItem(item)
        models = [e for e in entries if e.kind == "model"]
        adapters = [e for e in entries if e.kind == "adapter"]
        added = sum(e.size for e in entries if not e.builtin and e.exists)
        self.summary.setText(
            f"{plural(len(models), 'model')} ({sum(e.builtin for e in models)} built in), "
            f"{plural(len(adapters), 'adapter')} · {human_size(added)} added"
        )
        if selected:
            self.select(selected)

    def selected_name(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, NAME_ROLE) if item is not None else None

    def select(self, name: str) -> bool:
        for item, item_name in _names(self.tree):
            if item_name == name:
                self.tree.setCurrentItem(item)
                return True
        return False

    def row_texts(self) -> dict[str, list[str]]:
        """Each row's cells by registry name (what a person reads; tests check it)."""
        columns = range(self.tree.columnCount())
        return {name: [item.text(c) for c in columns] for item, name in _names(self.tree)}


class DownloadPage(QWidget):
    """The catalogue of recommended models, and a form for any hub repository and file.

    The models recommended for this computer's memory (``total_memory`` bytes, read
    from the system when None) come first, with a badge.
    """

    def __init__(self, parent: QWidget | None = None, total_memory: int | None = None) -> None:
        super().__init__(parent)
        self.total_memory = total_memory or machine_fit.machine_memory()
        self.recommended = machine_fit.recommend(self.total_memory)
        box = QVBoxLayout(self)
        box.addWidget(QLabel("<b>Recommended small models</b> (quantized, they run well on a laptop's CPU)", self))
        self.tree = _tree(self, CATALOGUE_COLUMNS, "catalogue")
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for entry in machine_fit.ordered(catalogue.CATALOGUE, self.recommended):
            need = machine_fit.describe_need(entry)
            item = QTreeWidgetItem([entry.title, entry.params, human_size(entry.approx_size), need,
                                    f"{entry.context_length:,}", entry.license, self._badge(entry)])
            item.setData(0, NAME_ROLE, entry.name)
            tip = (f"{entry.description}\n{entry.repo_id}/{entry.filename}\nNeeds about {need[1:]} of memory "
                   f"with a {machine_fit.DEFAULT_CONTEXT}-token context.")
            for column in range(len(CATALOGUE_COLUMNS)):
                item.setToolTip(column, tip)
            for column in (1, 2, 3, 4):
                item.setTextAlignment(column, _RIGHT)
            if entry in self.recommended:
                item.setFont(0, bold)
            self.tree.addTopLevelItem(item)
        box.addWidget(self.tree, 1)
        row = QHBoxLayout()
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.download_button = QPushButton("Download", self)
        row.addWidget(self.description, 1)
        row.addWidget(self.download_button)
        box.addLayout(row)

        hub = QFrame(self)
        hub.setFrameShape(QFrame.Shape.StyledPanel)
        form = QFormLayout(hub)
        form.addRow(QLabel("<b>Any GGUF file on the Hugging Face hub</b>", hub))
        self.repo_edit = QLineEdit(hub)
        self.repo_edit.setObjectName("hubRepo")
        self.repo_edit.setPlaceholderText("owner/name, e.g. ggml-org/Qwen3-1.7B-GGUF")
        self.file_edit = QLineEdit(hub)
        self.file_edit.setObjectName("hubFile")
        self.file_edit.setPlaceholderText("file in the repository, e.g. Qwen3-1.7B-Q4_K_M.gguf")
        self.hub_button = QPushButton("Download file", hub)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.hub_button)
        form.addRow("Repository", self.repo_edit)
        form.addRow("File", file_row)
        box.addWidget(hub)

    def _badge(self, entry) -> str:
        if entry not in self.recommended:
            return ""
        return f"★ Recommended for this computer ({machine_fit.describe_memory(self.total_memory)})"

    def show_installed(self, entries: list) -> None:
        """Mark the catalogue models whose file is installed (the others keep their badge)."""
        missing = {e.name for e in catalogue.not_downloaded(e.source for e in entries)}
        for item, name in _names(self.tree):
            item.setText(STATUS, self._badge(catalogue.find(name)) if name in missing else INSTALLED_MARK)

    def status_texts(self) -> dict[str, str]:
        """Each catalogue model's Status cell by name, in the order shown (tests read it)."""
        return {name: item.text(STATUS) for item, name in _names(self.tree)}

    def chosen(self):
        """The selected CatalogueEntry, or None."""
        item = self.tree.currentItem()
        return catalogue.find(item.data(0, NAME_ROLE)) if item is not None else None

    def choose(self, name: str) -> bool:
        for item, item_name in _names(self.tree):
            if item_name == name:
                self.tree.setCurrentItem(item)
                return True
        return False

    def hub_request(self) -> tuple[str, str]:
        return self.repo_edit.text().strip(), self.file_edit.text().strip()
