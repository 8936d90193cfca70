"""The Models dialog: installed models and adapters, downloads with progress and Cancel, add, delete.

The dialog only shows things and collects choices; every registry call (listing
parses GGUF headers, adding validates a file, a download takes minutes) runs on
:class:`~ragdesk.ui.model_tasks.ModelTasksWorker` in its own thread. Failures,
including "offline", appear as a sentence in the dialog. ``modelsChanged`` is
emitted whenever the set of models changes, so the window refreshes its pickers.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Callable

from ragdesk.llm import catalogue
from ragdesk.llm.registry import DEFAULT_MODEL, is_managed
from ragdesk.ui.errors import confirm, sentence
from ragdesk.ui.model_tasks import ModelTask, ModelTasksWorker
from ragdesk.ui.models import human_size, plural
from ragdesk.ui.qt import (
    QAbstractItemView, QApplication, QColor, QDialog, QDialogButtonBox, QFileDialog, QFont, QFormLayout,
    QFrame, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QObject, QPalette, QProgressBar, QPushButton, QStyle,
    QTabWidget, Qt, QThread, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget, Signal, Slot,
)
from ragdesk.ui import theme

log = logging.getLogger(__name__)

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
INSTALLED_COLUMNS = ("Name", "Kind", "Size", "Architecture", "Licence", "Source")
CATALOGUE_COLUMNS = ("Model", "Parameters", "Download", "Context", "Licence", "Status")
BUILTIN_TIP = "Built-in models ship with ragdesk and can't be deleted."
BUSY_TIP = "Wait for the download to finish, or cancel it."
_ASK = object()  # add_adapter_file: ask for the base model



class _Threads(QObject):
    """Keeps every worker thread referenced until it has ended (a closed dialog's cancelled
    download may still be winding down): a QThread destroyed while running aborts the app."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict = {}  # QThread -> its worker
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.wait_all)

    def add(self, thread, worker) -> None:
        self.live[thread] = worker
        thread.finished.connect(self.reap)  # queued: this object lives in the GUI thread

    @Slot()
    def reap(self) -> None:
        for thread in [t for t in self.live if t.isFinished()]:
            thread.wait()
            del self.live[thread]

    @Slot()
    def wait_all(self, timeout_ms: int = 15_000) -> None:
        """At exit: cancel what still runs, stop every worker, wait for the threads."""
        for thread, worker in list(self.live.items()):
            worker.stop()
        for thread in list(self.live):
            thread.wait(timeout_ms)
        self.reap()


_threads: _Threads | None = None


def _thread_keeper() -> _Threads:
    global _threads
    if _threads is None:
        _threads = _Threads()
    return _threads


def _default_registry():
    from ragdesk import db, paths
    from ragdesk.llm.registry import ModelRegistry

    return ModelRegistry(db.connect(paths.db_path()))


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
    return "Model"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ModelManagerDialog(QDialog):
    """Lists, downloads, adds and deletes models and LoRA adapters."""

    modelsChanged = Signal()  # the set of installed models or adapters changed
    taskFinished = Signal(object, str)  # ModelTask, "done" | "failed" | "cancelled"; the list is updated by then
    listRefreshed = Signal()
    _submit = Signal(object)  # queued into the worker

    def __init__(self, parent: QWidget | None = None, registry_factory: Callable[[], object] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelManager")
        self.setWindowTitle("Models")
        self.registry_factory = registry_factory or _default_registry
        self.entries: list = []
        self.listed_once = False
        self.download: ModelTask | None = None  # the download in progress
        self.last_confirm = None  # the open confirmation box (tests press its buttons)
        self._pending: list[ModelTask] = []
        self._started_at = 0.0
        self._pending_select: str | None = None
        self._outcomes: list[tuple[ModelTask, str]] = []  # reported once the new listing is shown
        self._worker = self._thread = None
        self._build()
        self._start_worker()
        self.resize(980, 580)

    # -- construction -------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Language models (GGUF) and LoRA adapters ragdesk can use. Built-in models ship with the "
            "app and work offline; downloads come from the Hugging Face hub.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_installed(), "Installed")
        self.tabs.addTab(self._build_download(), "Download")
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self._build_task_panel())
        self.message = QLabel(self)
        self.message.setObjectName("modelMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _tree(self, columns) -> QTreeWidget:
        tree = QTreeWidget(self)
        tree.setHeaderLabels(list(columns))
        tree.setRootIsDecorated(False)
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        tree.setStyleSheet("QTreeView::item { padding: 3px 6px 3px 2px; }")
        tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        tree.header().setStretchLastSection(True)
        return tree

    def _build_installed(self) -> QWidget:
        page = QWidget(self)
        box = QVBoxLayout(page)
        self.installed = self._tree(INSTALLED_COLUMNS)
        self.installed.setObjectName("installedModels")
        self.installed.itemSelectionChanged.connect(self._update_buttons)
        box.addWidget(self.installed, 1)
        row = QHBoxLayout()
        self.add_model_button = QPushButton("Add model file…", page)
        self.add_model_button.setToolTip("Register a GGUF model on this computer (it stays where it is)")
        self.add_model_button.clicked.connect(lambda: self.add_model_file())
        self.add_adapter_button = QPushButton("Add LoRA adapter…", page)
        self.add_adapter_button.setToolTip("Register a LoRA adapter (GGUF) and the model it was made for")
        self.add_adapter_button.clicked.connect(lambda: self.add_adapter_file())
        self.summary = QLabel(page)
        self.summary.setObjectName("modelSummary")
        self.delete_button = QPushButton("Delete…", page)
        self.delete_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TrashIcon))
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        for widget in (self.add_model_button, self.add_adapter_button):
            row.addWidget(widget)
        row.addSpacing(12)
        row.addWidget(self.summary, 1)
        row.addWidget(self.delete_button)
        box.addLayout(row)
        return page

    def _build_download(self) -> QWidget:
        page = QWidget(self)
        box = QVBoxLayout(page)
        box.addWidget(QLabel("<b>Recommended small models</b> (4-bit, run well on a laptop's CPU)", page))
        self.catalogue = self._tree(CATALOGUE_COLUMNS)
        self.catalogue.setObjectName("catalogue")
        for entry in catalogue.CATALOGUE:
            item = QTreeWidgetItem([entry.title, entry.params, human_size(entry.approx_size),
                                    f"{entry.context_length:,}", entry.license, ""])
            item.setData(0, NAME_ROLE, entry.name)
            item.setToolTip(0, f"{entry.description}\n{entry.repo_id}/{entry.filename}")
            for column in (1, 2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.catalogue.addTopLevelItem(item)
        self.catalogue.itemSelectionChanged.connect(self._update_buttons)
        self.catalogue.itemDoubleClicked.connect(lambda *_: self.download_catalogue())
        box.addWidget(self.catalogue, 1)
        row = QHBoxLayout()
        self.description = QLabel(page)
        self.description.setWordWrap(True)
        self.download_button = QPushButton("Download", page)
        self.download_button.setDefault(False)
        self.download_button.clicked.connect(lambda: self.download_catalogue())
        row.addWidget(self.description, 1)
        row.addWidget(self.download_button)
        box.addLayout(row)

        hub = QFrame(page)
        hub.setFrameShape(QFrame.Shape.StyledPanel)
        form = QFormLayout(hub)
        form.addRow(QLabel("<b>Any GGUF file on the Hugging Face hub</b>", hub))
        self.repo_edit = QLineEdit(hub)
        self.repo_edit.setObjectName("hubRepo")
        self.repo_edit.setPlaceholderText("owner/name, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF")
        self.file_edit = QLineEdit(hub)
        self.file_edit.setObjectName("hubFile")
        self.file_edit.setPlaceholderText("file in the repository, e.g. qwen2.5-0.5b-instruct-q4_k_m.gguf")
        self.hub_button = QPushButton("Download file", hub)
        self.hub_button.clicked.connect(lambda: self.download_file())
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.hub_button)
        form.addRow("Repository", self.repo_edit)
        form.addRow("File", file_row)
        for edit in (self.repo_edit, self.file_edit):
            edit.textChanged.connect(self._update_buttons)
        self.file_edit.returnPressed.connect(lambda: self.download_file())
        box.addWidget(hub)
        return page

    def _build_task_panel(self) -> QWidget:
        panel = QFrame(self)
        panel.setObjectName("taskPanel")
        row = QHBoxLayout(panel)
        row.setContentsMargins(0, 4, 0, 4)
        self.task_label = QLabel(panel)
        self.task_label.setObjectName("taskLabel")
        self.progress = QProgressBar(panel)
        self.progress.setObjectName("downloadProgress")
        self.progress.setMinimumWidth(240)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", panel)
        self.cancel_button.setObjectName("cancelDownload")
        self.cancel_button.clicked.connect(self.cancel_download)
        row.addWidget(self.task_label, 1)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        panel.hide()
        self.task_panel = panel
        return panel

    # -- the worker ---------------------------------------------------------------------

    def _start_worker(self) -> None:
        worker = ModelTasksWorker(self.registry_factory)
        thread = QThread()
        thread.setObjectName("ragdesk-models")
        worker.moveToThread(thread)
        thread.started.connect(worker.start)
        self._submit.connect(worker.run)
        worker.listed.connect(self._on_listed)
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        _thread_keeper().add(thread, worker)
        self._worker, self._thread = worker, thread
        thread.start()

    def _release(self) -> None:
        """Cancel what runs or waits and let the worker stop after its current call (no waiting)."""
        if self._worker is None:
            return
        for task in self._pending:
            task.cancel.set()
        self._submit.disconnect(self._worker.run)
        self._worker.stop()
        self._worker = None

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """Stop the worker and wait for its thread (app exit, tests); True if it ended in time."""
        thread = self._thread
        self._release()
        if thread is None or not thread.isRunning():
            return True
        return thread.wait(timeout_ms)

    def done(self, result: int) -> None:
        self._release()  # a running download is cancelled; its partial file is kept for resuming
        super().done(result)

    def showEvent(self, event) -> None:
        if self._worker is None:  # reopened after it was closed
            self._start_worker()
        super().showEvent(event)

    def _run(self, task: ModelTask) -> ModelTask | None:
        if self._worker is None:
            return None
        self._pending.append(task)
        self._submit.emit(task)
        self._update_buttons()
        return task

    def refresh(self) -> None:
        self._run(ModelTask("list"))

    # -- actions ------------------------------------------------------------------------

    def add_model_file(self, path: str | os.PathLike | None = None) -> ModelTask | None:
        """Register a GGUF model file (asks for it when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Add a GGUF model", str(Path.home()), "GGUF models (*.gguf)")
            if not path:
                return None
        self._say(f"Adding {Path(path).name}…")
        return self._run(ModelTask("add", path=str(path)))

    def add_adapter_file(self, path: str | os.PathLike | None = None, base_model=_ASK) -> ModelTask | None:
        """Register a LoRA adapter; asks for the file and for the model it was made for unless given."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Add a LoRA adapter", str(Path.home()), "LoRA adapters (*.gguf)")
            if not path:
                return None
        if base_model is _ASK:
            self._choose_base(str(path))
            return None
        self._say(f"Adding {Path(path).name}…")
        return self._run(ModelTask("add", path=str(path), adapter=True, base_model=base_model))

    def _choose_base(self, path: str) -> None:
        from ragdesk.ui.model_base_chooser import BaseModelChooser

        models = [e for e in self.entries if e.kind == "model"]
        chooser = BaseModelChooser(path, models, self)
        chooser.accepted.connect(lambda: self.add_adapter_file(path, chooser.base_model()))
        chooser.open()
        self.base_chooser = chooser

    def download_catalogue(self, name: str | None = None) -> ModelTask | None:
        """Download a catalogue model (the selected one when ``name`` is None)."""
        if name is None:
            item = self.catalogue.currentItem()
            if item is None or not self.download_button.isEnabled():
                return None
            name = item.data(0, NAME_ROLE)
        return self._start_download(ModelTask("pull", name=name))

    def download_file(self, repo_id: str | None = None, filename: str | None = None) -> ModelTask | None:
        """Download ``repo_id``/``filename`` from the hub (the typed ones when not given)."""
        repo_id = (repo_id if repo_id is not None else self.repo_edit.text()).strip()
        filename = (filename if filename is not None else self.file_edit.text()).strip()
        if not repo_id or not filename:
            self._say("Type the repository (owner/name) and the file to download.", error=True)
            return None
        return self._start_download(ModelTask("pull", name=repo_id, filename=filename))

    def _start_download(self, task: ModelTask) -> ModelTask | None:
        if self.download is not None:
            self._say("A download is already running: wait for it or cancel it.", error=True)
            return None
        self.download, self._started_at = task, time.monotonic()
        self.task_label.setText(f"Connecting to download {task.label}…")
        self.progress.setRange(0, 0)  # busy until the size is known
        self.cancel_button.setEnabled(True)
        self.task_panel.show()
        self.message.hide()
        return self._run(task)

    def cancel_download(self) -> bool:
        if self.download is None:
            return False
        self.download.cancel.set()
        self.cancel_button.setEnabled(False)
        self.task_label.setText(f"Cancelling {self.download.label}…")
        return True

    def delete_selected(self):
        item = self.installed.currentItem()
        return None if item is None else self.delete_entry(item.data(0, NAME_ROLE))

    def delete_entry(self, name: str):
        """Ask, then delete ``name`` (never a built-in); returns the confirmation box."""
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is None or entry.builtin or self.download is not None:
            return None
        what = "LoRA adapter" if entry.kind == "adapter" else "model"
        if is_managed(entry.path):
            text = f"Delete the {what} '{name}'? Its file ({human_size(entry.size)}) in ragdesk's data folder is deleted too."
        else:
            text = f"Remove the {what} '{name}' from ragdesk? Its file stays where it is:\n{entry.path}"
        dependents = [e.name for e in self.entries if e.kind == "adapter" and e.base_model == name]
        if dependents:
            text += f"\n\n{plural(len(dependents), 'adapter')} made for it ({', '.join(dependents)}) stay installed."
        self.last_confirm = confirm(self, text, lambda: self._remove(name), yes_text="Delete", title="Delete model")
        return self.last_confirm

    def _remove(self, name: str) -> None:
        self._say(f"Deleting {name}…")
        self._run(ModelTask("remove", name=name))

    def select(self, name: str) -> bool:
        for i in range(self.installed.topLevelItemCount()):
            item = self.installed.topLevelItem(i)
            if item.data(0, NAME_ROLE) == name:
                self.installed.setCurrentItem(item)
                return True
        return False

    # -- replies from the worker --------------------------------------------------------------

    def _forget(self, task) -> None:
        if task in self._pending:
            self._pending.remove(task)
        if task is self.download:
            self.download = None
            self.task_panel.hide()

    def _on_listed(self, entries) -> None:
        self.entries = list(entries)
        self.listed_once = True
        self._pending = [t for t in self._pending if t.kind != "list"]
        self._fill_installed()
        self._fill_catalogue_state()
        self._update_buttons()
        self.listRefreshed.emit()
        self._report_outcomes()

    def _report_outcomes(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        for task, outcome in outcomes:
            self.taskFinished.emit(task, outcome)

    def _on_progress(self, task, done: int, total: int) -> None:
        if task is not self.download:
            return
        elapsed = time.monotonic() - self._started_at
        rate = done / elapsed if elapsed > 0.5 and done else 0.0  # no speed from the first instant
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            amount = f"{human_size(done)} of {human_size(total)}"
        else:
            self.progress.setRange(0, 0)
            amount = human_size(done)
        speed = f" · {human_size(int(rate))}/s" if rate else ""
        if rate and total and done < total:
            speed += f" · {_duration((total - done) / rate)} left"
        self.task_label.setText(f"Downloading {task.label}: {amount}{speed}")

    def _on_succeeded(self, task, entry) -> None:
        self._forget(task)
        if task.kind == "pull":
            self._say(f"Downloaded {entry.name} ({human_size(entry.size)}); choose it in the Model picker.")
        elif task.kind == "add":
            what = "LoRA adapter" if entry.kind == "adapter" else "model"
            base = f" for {entry.base_model}" if entry.base_model else ""
            self._say(f"Added the {what} {entry.name}{base} ({human_size(entry.size)}).")
        else:
            self._say(f"Deleted {task.name}.")
        if entry is not None:
            self._pending_select = entry.name
        self.modelsChanged.emit()
        self._outcomes.append((task, "done"))

    def _on_failed(self, task, message: str) -> None:
        self._say(message, error=True)
        if task is None:  # the listing itself failed: report what waited for it
            self._report_outcomes()
            return
        self._forget(task)
        self._update_buttons()
        self._outcomes.append((task, "failed"))

    def _on_cancelled(self, task, message: str) -> None:
        self._forget(task)
        self._say(message)
        self._update_buttons()
        self._outcomes.append((task, "cancelled"))

    # -- view state ---------------------------------------------------------------------------

    def _say(self, text: str, error: bool = False) -> None:
        """The one-line outcome under the lists (errors tinted, never a crash or a traceback)."""
        self.message.setText(sentence(text))
        self.message.setProperty("error", error)
        if error:
            text_color = theme.app_palette().color(QPalette.ColorRole.Text)
            self.message.setStyleSheet(f"color: {theme.hex_color(theme.mix(text_color, QColor('#c62828'), 0.85))};")
        else:
            self.message.setStyleSheet("")
        self.message.show()

    def _fill_installed(self) -> None:
        selected = self._pending_select or self._selected_name()
        self._pending_select = None
        self.installed.clear()
        bold = QFont(self.installed.font())
        bold.setBold(True)
        for e in self.entries:
            name = f"{e.name}  (default)" if e.name == DEFAULT_MODEL else e.name
            size = human_size(e.size) if e.exists or e.builtin else "file missing"
            row = [name, kind_text(e), size, e.architecture or "?", e.license or "", source_text(e)]
            item = QTreeWidgetItem(row)
            item.setData(0, NAME_ROLE, e.name)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            tip = f"{e.path}" + ("\nBuilt in: ships with ragdesk, works offline." if e.builtin else "")
            if e.builtin and not e.meta.get("ready", True):
                tip += "\nAssembled from its package on first use."
            for column in range(len(row)):
                item.setToolTip(column, tip)
            if e.builtin:
                item.setFont(0, bold)
            self.installed.addTopLevelItem(item)
        models = [e for e in self.entries if e.kind == "model"]
        adapters = [e for e in self.entries if e.kind == "adapter"]
        added = sum(e.size for e in self.entries if not e.builtin and e.exists)
        self.summary.setText(
            f"{plural(len(models), 'model')} ({sum(e.builtin for e in models)} built in), "
            f"{plural(len(adapters), 'adapter')} · {human_size(added)} added"
        )
        if selected:
            self.select(selected)

    def _fill_catalogue_state(self) -> None:
        missing = {e.name for e in catalogue.not_downloaded(e.source for e in self.entries)}
        for i in range(self.catalogue.topLevelItemCount()):
            item = self.catalogue.topLevelItem(i)
            item.setText(5, "" if item.data(0, NAME_ROLE) in missing else "✓ Installed")

    def _selected_name(self) -> str | None:
        item = self.installed.currentItem()
        return item.data(0, NAME_ROLE) if item is not None else None

    def _update_buttons(self) -> None:
        busy = self.download is not None
        entry = next((e for e in self.entries if e.name == self._selected_name()), None)
        if busy:
            can_delete, tip = False, BUSY_TIP
        elif entry is None:
            can_delete, tip = False, "Select a model or adapter to delete it."
        elif entry.builtin:
            can_delete, tip = False, BUILTIN_TIP
        else:
            can_delete, tip = True, f"Delete {entry.name}"
        self.delete_button.setEnabled(can_delete)
        self.delete_button.setToolTip(tip)
        for button in (self.add_model_button, self.add_adapter_button):
            button.setEnabled(not busy)
        item = self.catalogue.currentItem()
        chosen = catalogue.find(item.data(0, NAME_ROLE)) if item is not None else None
        installed = chosen is not None and any(e.source == chosen.source for e in self.entries)
        self.download_button.setEnabled(chosen is not None and not busy and not installed)
        self.download_button.setToolTip(BUSY_TIP if busy else ("Already installed" if installed else ""))
        self.description.setText(chosen.description if chosen else "Choose a model to see what it is good for.")
        has_text = bool(self.repo_edit.text().strip() and self.file_edit.text().strip())
        self.hub_button.setEnabled(has_text and not busy)
