"""The Models dialog: installed models and adapters, downloads with progress and Cancel, add, delete.

The dialog only shows things and collects choices; every registry call (listing
parses GGUF headers, adding validates a file, a download takes minutes) runs on
:class:`~ragdesk.ui.models.model_tasks.ModelTasksWorker` in its own thread, and a
download is cancelled by a flag, never by ending the thread. Failures, "offline"
included, appear as a sentence in the dialog. ``modelsChanged`` is emitted
whenever the set of models changes, so the main window refreshes its pickers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from ragdesk.llm.registry import is_managed
from ragdesk.ui.errors import confirm, sentence
from ragdesk.ui.item_models import human_size, plural
from ragdesk.ui.look import theme
from ragdesk.ui.models.model_pages import DownloadPage, InstalledPage
from ragdesk.ui.models.model_tasks import ModelTask, ModelTasksWorker
from ragdesk.ui.qt import (
    QColor,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPalette,
    QProgressBar,
    QPushButton,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ragdesk.ui.workers.qthreads import new_worker_thread

BUILTIN_TIP = "Built-in models ship with ragdesk and can't be deleted."
BUSY_TIP = "Wait for the download to finish, or cancel it."
_ASK = object()  # add_adapter_file: ask for the base model


def _default_registry():
    from ragdesk import db, paths
    from ragdesk.llm.registry import ModelRegistry

    return ModelRegistry(db.connect(paths.db_path()))


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ModelManagerDialog(QDialog):
    """Lists, downloads, adds and deletes models and LoRA adapters.

    ``registry_factory()`` returns a ModelRegistry on a connection of its own; it is
    called on the worker thread, which is the only user of that registry.
    ``total_memory`` (bytes) is the memory the recommendation is for (this computer's when None).
    """

    modelsChanged = Signal()  # the set of installed models or adapters changed
    taskFinished = Signal(object, str)  # ModelTask, "done" | "failed" | "cancelled"; the list is updated by then
    listRefreshed = Signal()
    _submit = Signal(object)  # queued into the worker

    def __init__(self, parent: QWidget | None = None, registry_factory: Callable[[], object] | None = None,
                 total_memory: int | None = None, settings=None) -> None:
        """With ``settings``, an Engine tab chooses where answers are generated (see engine_panel)."""
        super().__init__(parent)
        self.total_memory = total_memory  # bytes; None: this computer's (for the recommendation)
        self.settings = settings
        self.engine_panel = None
        self.setObjectName("modelManager")
        self.setWindowTitle("Models")
        self.registry_factory = registry_factory or _default_registry
        self.entries: list = []  # the latest listing (ModelEntry)
        self.listed_once = False
        self.download: ModelTask | None = None  # the download in progress
        self.last_confirm = None  # the open confirmation box
        self.base_chooser = None  # the open "which base model?" dialog
        self._pending: list[ModelTask] = []
        self._outcomes: list[tuple[ModelTask, str]] = []  # reported once the new listing is shown
        self._select_next: str | None = None
        self._started_at = 0.0
        self._worker = self._thread = None
        self._build()
        self._wire()
        self._start_worker()
        self.resize(980, 580)

    # -- construction -------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(
            "GGUF language models and LoRA adapters. Built-in models ship with ragdesk and work offline; "
            "downloads come from the Hugging Face hub.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.installed_page, self.download_page = InstalledPage(self), DownloadPage(self, self.total_memory)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.installed_page, "Installed")
        self.tabs.addTab(self.download_page, "Download")
        if self.settings is not None:
            from ragdesk.ui.settings.engine_panel import EnginePanel

            self.engine_panel = EnginePanel(self.settings, self)
            self.tabs.addTab(self.engine_panel, "Engine")
        layout.addWidget(self.tabs, 1)

        self.task_panel = QFrame(self)
        self.task_panel.setObjectName("taskPanel")
        row = QHBoxLayout(self.task_panel)
        row.setContentsMargins(0, 4, 0, 4)
        self.task_label = QLabel(self.task_panel)
        self.progress = QProgressBar(self.task_panel)
        self.progress.setObjectName("downloadProgress")
        self.progress.setMinimumWidth(240)
        self.cancel_button = QPushButton("Cancel", self.task_panel)
        self.cancel_button.setObjectName("cancelDownload")
        row.addWidget(self.task_label, 1)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        self.task_panel.hide()
        layout.addWidget(self.task_panel)

        self.message = QLabel(self)
        self.message.setObjectName("modelMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

        # The pages' widgets, by the names the rest of the dialog (and its tests) use.
        ip, dp = self.installed_page, self.download_page
        self.installed, self.summary, self.delete_button = ip.tree, ip.summary, ip.delete_button
        self.add_model_button, self.add_adapter_button = ip.add_model_button, ip.add_adapter_button
        self.catalogue, self.download_button, self.description = dp.tree, dp.download_button, dp.description
        self.repo_edit, self.file_edit, self.hub_button = dp.repo_edit, dp.file_edit, dp.hub_button

    def _wire(self) -> None:
        self.installed.itemSelectionChanged.connect(self._update_buttons)
        self.add_model_button.clicked.connect(lambda: self.add_model_file())
        self.add_adapter_button.clicked.connect(lambda: self.add_adapter_file())
        self.delete_button.clicked.connect(lambda: self.delete_selected())
        self.catalogue.itemSelectionChanged.connect(self._update_buttons)
        self.catalogue.itemDoubleClicked.connect(lambda *_: self.download_catalogue())
        self.download_button.clicked.connect(lambda: self.download_catalogue())
        self.hub_button.clicked.connect(lambda: self.download_file())
        self.file_edit.returnPressed.connect(lambda: self.download_file())
        for edit in (self.repo_edit, self.file_edit):
            edit.textChanged.connect(self._update_buttons)
        self.cancel_button.clicked.connect(self.cancel_download)

    # -- the worker ---------------------------------------------------------------------

    def _start_worker(self) -> None:
        worker = ModelTasksWorker(self.registry_factory)
        thread = new_worker_thread(worker, "ragdesk-models")  # held until it ends, even after the dialog closes
        self._submit.connect(worker.run)
        worker.listed.connect(self._on_listed)
        worker.progress.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
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
        """Stop the worker and wait for its thread (tests; the app's exit waits by itself)."""
        thread = self._thread
        self._release()
        return thread is None or not thread.isRunning() or thread.wait(timeout_ms)

    def done(self, result: int) -> None:
        self._release()  # a running download is cancelled; its partial file is kept for resuming
        if self.engine_panel is not None:
            self.engine_panel.shutdown()
        super().done(result)

    def showEvent(self, event) -> None:
        if self._worker is None:  # shown again after it was closed
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
        """Register a GGUF model file where it is (asks for it when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Add a GGUF model", str(Path.home()), "GGUF models (*.gguf)")
            if not path:
                return None
        self._say(f"Adding {Path(path).name}…")
        return self._run(ModelTask("add", path=str(path)))

    def add_adapter_file(self, path: str | os.PathLike | None = None, base_model=_ASK) -> ModelTask | None:
        """Register a LoRA adapter; asks for the file, and for the model it was made for, unless given.

        ``base_model=None`` registers it without a base (offered with any model it fits).
        """
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Add a LoRA adapter", str(Path.home()), "LoRA adapters (*.gguf)")
            if not path:
                return None
        if base_model is _ASK:
            from ragdesk.ui.models.model_base_chooser import BaseModelChooser

            chooser = BaseModelChooser(str(path), [e for e in self.entries if e.kind == "model"], self)
            chooser.accepted.connect(lambda: self.add_adapter_file(path, chooser.base_model()))
            chooser.finished.connect(chooser.deleteLater)
            self.base_chooser = chooser
            chooser.open()
            return None
        self._say(f"Adding {Path(path).name}…")
        return self._run(ModelTask("add", path=str(path), adapter=True, base_model=base_model))

    def download_catalogue(self, name: str | None = None) -> ModelTask | None:
        """Download a catalogue model (the selected one when ``name`` is None)."""
        if name is None:
            chosen = self.download_page.chosen()
            if chosen is None or not self.download_button.isEnabled():
                return None
            name = chosen.name
        return self._start_download(ModelTask("pull", name=name))

    def download_file(self, repo_id: str | None = None, filename: str | None = None) -> ModelTask | None:
        """Download ``repo_id``/``filename`` from the hub (the typed ones when not given)."""
        typed_repo, typed_file = self.download_page.hub_request()
        repo_id = (repo_id if repo_id is not None else typed_repo).strip()
        filename = (filename if filename is not None else typed_file).strip()
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
        """Stop the running download (what arrived is kept: the next download of it resumes)."""
        if self.download is None:
            return False
        self.download.cancel.set()
        self.cancel_button.setEnabled(False)
        self.task_label.setText(f"Cancelling {self.download.label}…")
        return True

    def delete_selected(self):
        name = self.installed_page.selected_name()
        return None if name is None else self.delete_entry(name)

    def delete_entry(self, name: str):
        """Ask, then delete ``name`` (never a built-in); returns the confirmation box, or None."""
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
        """Select an installed model or adapter by name."""
        return self.installed_page.select(name)

    def rows(self) -> dict[str, list[str]]:
        """The Installed list as shown: each row's cells by registry name."""
        return self.installed_page.row_texts()

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
        self.installed_page.show_entries(self.entries, select=self._select_next)
        self._select_next = None
        self.download_page.show_installed(self.entries)
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
            self._select_next = entry.name
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
        """The one-line outcome under the lists (errors tinted red; never a traceback)."""
        self.message.setText(sentence(text))
        self.message.setProperty("error", error)
        if error:
            text_color = theme.app_palette().color(QPalette.ColorRole.Text)
            self.message.setStyleSheet(f"color: {theme.hex_color(theme.mix(text_color, QColor('#c62828'), 0.85))};")
        else:
            self.message.setStyleSheet("")
        self.message.show()

    def _update_buttons(self) -> None:
        busy = self.download is not None
        entry = next((e for e in self.entries if e.name == self.installed_page.selected_name()), None)
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
            button.setEnabled(not busy)  # one registry change at a time, in the order asked
        chosen = self.download_page.chosen()
        installed = chosen is not None and any(e.source == chosen.source for e in self.entries)
        self.download_button.setEnabled(chosen is not None and not busy and not installed)
        self.download_button.setToolTip(BUSY_TIP if busy else ("Already installed" if installed else ""))
        self.description.setText(chosen.description if chosen else "Choose a model to see what it is good for.")
        repo, filename = self.download_page.hub_request()
        self.hub_button.setEnabled(bool(repo and filename) and not busy)
