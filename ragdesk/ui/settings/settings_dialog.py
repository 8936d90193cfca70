"""Settings: threads, context length, GPU layers, top-k, reranker, chunk size, embedding model, data folder."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from ragdesk import paths
from ragdesk.reranker import TOP_N_MAX, TOP_N_MIN, clamp_top_n
from ragdesk.settings import DEFAULT_EMBEDDING_MODEL, Settings
from ragdesk.ui.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``result_settings()`` gives it back after OK."""

    def __init__(self, settings: Settings, parent: QWidget | None = None, serve=None, *,
                 rerankers: list[str] = ()) -> None:
        """``serve``: the app's ServeController, shown as "Serve to other programs" when given;
        ``rerankers``: the names of the installed rerankers, offered next to Off."""
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self._original = settings
        self.data_folder: Path = paths.home()
        self._initial_folder = self.data_folder
        form = QFormLayout()

        self.threads = QSpinBox(self)
        self.threads.setRange(1, max(64, (os.cpu_count() or 1) * 2))
        self.threads.setValue(settings.n_threads)
        self.threads.setToolTip("CPU threads llama.cpp uses to generate answers")
        form.addRow("Threads", self.threads)

        self.n_ctx = QSpinBox(self)
        self.n_ctx.setRange(512, 262_144)
        self.n_ctx.setSingleStep(1024)
        self.n_ctx.setValue(settings.n_ctx)
        self.n_ctx.setSuffix(" tokens")
        self.n_ctx.setToolTip("How much text the model sees at once (capped by what the model supports)")
        form.addRow("Context length", self.n_ctx)

        self.gpu_layers = QSpinBox(self)
        self.gpu_layers.setRange(-1, 999)
        self.gpu_layers.setSpecialValueText("All layers")
        self.gpu_layers.setValue(settings.n_gpu_layers)
        self.gpu_layers.setToolTip("Layers offloaded to the GPU (0: CPU only) when llama.cpp was built with GPU support")
        form.addRow("GPU layers", self.gpu_layers)

        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(16, 32_768)
        self.max_tokens.setValue(settings.max_tokens)
        self.max_tokens.setSuffix(" tokens")
        form.addRow("Longest answer", self.max_tokens)

        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(settings.temperature)
        form.addRow("Temperature", self.temperature)

        self.top_k = QSpinBox(self)
        self.top_k.setRange(1, 50)
        self.top_k.setValue(settings.top_k)
        self.top_k.setToolTip("How many passages RAG and hybrid answers are given")
        form.addRow("Passages per answer (top-k)", self.top_k)
        self._add_reranker_rows(form, settings, list(rerankers))

        self.chunk_tokens = QSpinBox(self)
        self.chunk_tokens.setRange(64, 2048)
        self.chunk_tokens.setSingleStep(32)
        self.chunk_tokens.setValue(settings.chunk_tokens)
        self.chunk_tokens.setSuffix(" tokens")
        form.addRow("Chunk size", self.chunk_tokens)

        self.embedding = QComboBox(self)
        self.embedding.setEditable(True)
        self.embedding.addItem(DEFAULT_EMBEDDING_MODEL)
        if settings.embedding_model != DEFAULT_EMBEDDING_MODEL:
            self.embedding.addItem(settings.embedding_model)
        self.embedding.setCurrentText(settings.embedding_model)
        self.embedding.setToolTip("A sentence-transformers model name or folder; the default is built in")
        form.addRow("Embedding model", self.embedding)
        self.ignore_files = QCheckBox("Honour .gitignore and .ragdeskignore files", self)
        self.ignore_files.setObjectName("respectIgnoreFiles")
        self.ignore_files.setChecked(settings.respect_ignore_files)
        self.ignore_files.setToolTip("Leave out what a folder's .gitignore (every level), .git/info/exclude "
                                     "or .ragdeskignore excludes; hidden and well-known folders are always left out")
        form.addRow("Ignore rules", self.ignore_files)
        self.live_sync = QCheckBox("Keep the library's folders in sync while ragdesk runs", self)
        self.live_sync.setObjectName("liveSyncSetting")
        self.live_sync.setChecked(settings.live_sync)
        self.live_sync.setToolTip("New, changed, renamed and deleted files are picked up within seconds")
        form.addRow("Live folders", self.live_sync)
        note = QLabel("Chunk size and embedding model apply to collections created from now on.", self)
        note.setWordWrap(True)
        form.addRow("", note)

        folder_row = QHBoxLayout()
        self.folder_label = QLabel(self)
        self.folder_label.setObjectName("dataFolder")
        self._show_folder(self.data_folder)
        change = QPushButton("Change…", self)
        change.clicked.connect(self._choose_folder)
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(change)
        form.addRow("Data folder", folder_row)
        self.folder_note = QLabel("", self)
        self.folder_note.setWordWrap(True)
        form.addRow("", self.folder_note)
        if paths.is_relocated():
            change.setEnabled(False)
            self.folder_note.setText("Set by RAGDESK_HOME or --home for this run.")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.serve_panel = None
        if serve is not None:
            from ragdesk.ui.settings.serve_panel import ServePanel

            self.serve_panel = ServePanel(serve, settings, self)
            layout.addWidget(self.serve_panel)
        layout.addWidget(buttons)

    def _add_reranker_rows(self, form: QFormLayout, settings: Settings, rerankers: list[str]) -> None:
        """A combo of the installed rerankers plus Off, and how many candidates it reorders."""
        self.reranker = QComboBox(self)
        self.reranker.setObjectName("reranker")
        self.reranker.addItem("Off", None)
        for name in rerankers:
            self.reranker.addItem(name, name)
        if settings.reranker and settings.reranker not in rerankers:
            self.reranker.addItem(f"{settings.reranker} (not installed)", settings.reranker)
        self.reranker.setCurrentIndex(max(0, self.reranker.findData(settings.reranker)) if settings.reranker else 0)
        if self.reranker.count() == 1:
            self.reranker.setEnabled(False)
            self.reranker.setToolTip("No reranker is installed: pull one with "
                                     "`ragdesk models pull ms-marco-minilm-l6-v2`")
        else:
            self.reranker.setToolTip("A cross-encoder that reorders the best hybrid search results: "
                                     "better passages, slower answers")
        form.addRow("Reranker", self.reranker)
        self.rerank_top_n = QSpinBox(self)
        self.rerank_top_n.setRange(TOP_N_MIN, TOP_N_MAX)
        self.rerank_top_n.setValue(clamp_top_n(settings.rerank_top_n))
        self.rerank_top_n.setSuffix(" candidates")
        self.rerank_top_n.setToolTip("How many search results the reranker reads for each question")
        form.addRow("Reranker reads", self.rerank_top_n)
        self.reranker.currentIndexChanged.connect(self._update_reranker_rows)
        self._update_reranker_rows()

    def _update_reranker_rows(self) -> None:
        self.rerank_top_n.setEnabled(self.reranker.currentData() is not None)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the data folder", str(self.data_folder))
        if folder:
            self.set_data_folder(Path(folder))

    def _show_folder(self, folder: Path) -> None:
        text = str(folder)
        if len(text) > 48:  # paths have no spaces to wrap at: shorten in the middle instead
            text = text[:18] + "…" + text[-29:]
        self.folder_label.setText(text)
        self.folder_label.setToolTip(str(folder))

    def set_data_folder(self, folder: Path) -> None:
        self.data_folder = folder
        self._show_folder(folder)
        changed = folder != self._initial_folder
        self.folder_note.setText("ragdesk will use this folder after a restart." if changed else "")

    @property
    def data_folder_changed(self) -> bool:
        return self.data_folder != self._initial_folder

    def result_settings(self) -> Settings:
        """A copy of the settings with the dialog's values."""
        s = copy.deepcopy(self._original)
        s.n_threads = self.threads.value()
        s.n_ctx = self.n_ctx.value()
        s.n_gpu_layers = self.gpu_layers.value()
        s.max_tokens = self.max_tokens.value()
        s.temperature = round(self.temperature.value(), 2)
        s.top_k = self.top_k.value()
        s.reranker = self.reranker.currentData()
        s.rerank_top_n = self.rerank_top_n.value()
        s.chunk_tokens = self.chunk_tokens.value()
        if s.chunk_overlap >= s.chunk_tokens:  # the store refuses an overlap as large as a chunk
            s.chunk_overlap = s.chunk_tokens // 5
        s.embedding_model = self.embedding.currentText().strip() or DEFAULT_EMBEDDING_MODEL
        s.respect_ignore_files = self.ignore_files.isChecked()
        s.live_sync = self.live_sync.isChecked()
        if self.serve_panel is not None:
            self.serve_panel.apply_to(s)
        return s
