"""The main window: mode bar on top; Library and conversations, chat, and sources side by side.

The window wires the controller's signals to the views and the views' requests
to the controller; it holds no business logic. The central area is a tab
widget whose first page is the chat (other views, such as Compare, add pages
with :meth:`MainWindow.add_page`). Geometry, splitter positions and the chosen
mode are remembered in ``ui-state.ini`` in the data folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ragdesk import paths
from ragdesk.chat.modes import MODE_ORDER, MODES
from ragdesk.llm.registry import DEFAULT_MODEL
from ragdesk.logging_setup import log_file
from ragdesk.ui.chat.chat_view import ChatView
from ragdesk.ui.chat.conversations import ConversationsPanel
from ragdesk.ui.chat.mode_bar import ModeBar
from ragdesk.ui.chat.preload_status import PreloadStatus
from ragdesk.ui.chat.sources_panel import CitationsPanel
from ragdesk.ui.compare.compare_view import CompareView
from ragdesk.ui.controller import AppController
from ragdesk.ui.errors import sentence, show_error
from ragdesk.ui.item_models import entry_from_answer, entry_from_message
from ragdesk.ui.library.jobs import summary_text
from ragdesk.ui.library.library_panel import LibraryPanel, local_paths
from ragdesk.ui.look import style, theme
from ragdesk.ui.menus import build_menus
from ragdesk.ui.qt import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSettings,
    QSplitter,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

UI_STATE_FILE = "ui-state.ini"


def ui_state() -> QSettings:
    """Window state lives in the data folder, so each data folder (and test) has its own."""
    return QSettings(str(paths.home() / UI_STATE_FILE), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    """The ragdesk window."""

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.conversation_id: int | None = None
        self.last_error: QMessageBox | None = None
        self.train_dialog = None  # the Train adapter dialog, once opened
        self._serve = None  # Settings ▸ Serve to other programs, once opened
        self.setObjectName("mainWindow")
        self.setWindowTitle("ragdesk")
        self.setAcceptDrops(True)

        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        self.mode_bar = ModeBar(controller, central)
        outer.addWidget(self.mode_bar)

        self.library = LibraryPanel(controller)
        self.conversations = ConversationsPanel(controller)
        self.left_split = QSplitter(Qt.Orientation.Vertical)
        self.left_split.setObjectName("leftSplitter")
        self.left_split.addWidget(self.library)
        self.left_split.addWidget(self.conversations)
        self.left_split.setStretchFactor(0, 3)
        self.left_split.setStretchFactor(1, 2)

        self.chat = ChatView()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("centralTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)  # a single page needs no tab bar
        self.tabs.addTab(self.chat, "Chat")
        self.compare = CompareView(controller)
        self.add_page(self.compare, "Compare")

        self.citations = CitationsPanel(controller.document_text)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.setObjectName("mainSplitter")
        self.main_split.addWidget(self.left_split)
        self.main_split.addWidget(self.tabs)
        self.main_split.addWidget(self.citations)
        self.main_split.setStretchFactor(0, 0)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setStretchFactor(2, 0)
        self.main_split.setSizes([290, 640, 350])
        outer.addWidget(self.main_split, 1)
        self.setCentralWidget(central)

        self.model_status = QLabel(self)
        self.model_status.setObjectName("modelStatus")
        self.statusBar().addPermanentWidget(PreloadStatus(controller, self))
        self.statusBar().addPermanentWidget(self.model_status)
        build_menus(self)
        self._wire()
        self._restore_state()
        self._update_chat_state()
        style.install()  # the look, once the widgets are built: one styling pass instead of one per widget

    # -- construction --------------------------------------------------------

    def _wire(self) -> None:
        c = self.controller
        chat = self.chat
        chat.submitted.connect(self.send)
        chat.stopRequested.connect(self.stop)
        chat.loadDefaultRequested.connect(lambda: c.load_model(DEFAULT_MODEL))
        chat.manageModelsRequested.connect(self.open_model_manager)
        chat.addFolderRequested.connect(self.library.add_folder_dialog)
        chat.citationClicked.connect(lambda entry, n: self.citations.show_entry(entry, n))
        chat.entrySelected.connect(self.citations.show_entry)
        self.compare.citationClicked.connect(lambda entry, n: self.citations.show_entry(entry, n))
        self.compare.entrySelected.connect(self.citations.show_entry)
        self.mode_bar.manageModelsRequested.connect(self.open_model_manager)
        self.library.searchRequested.connect(c.search)
        self.conversations.conversationChosen.connect(self.open_conversation)
        self.conversations.newChatRequested.connect(self.new_chat)
        self.conversations.conversationDeleted.connect(self._conversation_deleted)

        for signal in (c.modelChanged, c.catalogChanged, c.availabilityChanged, c.modeChanged, c.busyChanged,
                       c.comparisons.runningChanged):
            signal.connect(self._update_chat_state)
        c.busyChanged.connect(chat.set_busy)
        c.answerStarted.connect(self._answer_started)
        c.answerTokens.connect(chat.append_tokens)
        c.answerStage.connect(chat.show_stage)
        c.answerFinished.connect(self._answer_finished)
        c.answerFailed.connect(chat.fail_answer)
        c.searchDone.connect(self.citations.show_search)
        c.errorOccurred.connect(lambda title, message: self.show_error(message, title))
        c.jobDone.connect(lambda job: self.statusBar().showMessage(summary_text(job), 10_000))

    # -- chat ------------------------------------------------------------------

    def send(self, text: str):
        request = self.controller.ask(text, self.conversation_id)
        if request is None:
            self.statusBar().showMessage("The model can't take a question right now.", 5000)
            return None
        card = self.chat.begin_answer(request.id, request.question, request.mode)
        if self.controller.model_state == "loading":  # queued behind the preload: say so, not "Writing…"
            card.set_stage("Waiting for the model to load…")
        self.chat.clear_input()
        return request

    def stop(self) -> None:
        self.controller.cancel_answer()

    def focus_input(self) -> None:
        self.tabs.setCurrentWidget(self.chat)
        self.chat.input.setFocus()

    def show_compare(self) -> None:
        self.tabs.setCurrentWidget(self.compare)
        self.compare.input.setFocus()

    def _answer_started(self, _request_id: int, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        self.conversations.select(conversation_id)

    def _answer_finished(self, request_id: int, answer) -> None:
        entry = entry_from_answer(answer)
        if self.chat.finish_answer(request_id, entry) is not None:
            self.citations.show_entry(entry)

    def new_chat(self) -> bool:
        if self.controller.busy:
            self.statusBar().showMessage("An answer is still being written: stop it first (Esc).", 5000)
            return False
        self.conversation_id = None
        self.chat.clear()
        self.citations.clear()
        self.conversations.select(None)
        self.focus_input()
        return True

    def open_conversation(self, conversation_id: int) -> bool:
        if self.controller.busy:
            self.statusBar().showMessage("An answer is still being written: stop it first (Esc).", 5000)
            self.conversations.select(self.conversation_id)
            return False
        entries = [entry_from_message(m) for m in self.controller.conversation_messages(conversation_id)]
        self.conversation_id = conversation_id
        self.conversations.select(conversation_id)
        self.chat.show_entries(entries)
        answers = [e for e in entries if e.role == "assistant"]
        if answers:
            self.chat.card_for(answers[-1]).set_selected(True)
            self.citations.show_entry(answers[-1])
        else:
            self.citations.clear()
        return True

    def _conversation_deleted(self, conversation_id: int) -> None:
        if conversation_id == self.conversation_id:
            self.new_chat()

    def _export_current(self) -> None:
        if self.conversation_id is None:
            self.statusBar().showMessage("Open a conversation to export it.", 5000)
            return
        self.conversations.export_dialog(self.conversation_id, "markdown")

    def _update_chat_state(self, *_args) -> None:
        c = self.controller
        if c.model_state == "none":
            self.chat.banner.show_needed(c.default_model_available())
            self.chat.set_input_state(False, "A language model is needed to answer: load one above.")
        elif c.model_state == "loading":
            self.chat.banner.show_loading(c.loading_name)
            self.chat.set_input_state(c.can_ask(), "Loading the model… Ask already: the answer starts once it is loaded.")
        else:
            self.chat.banner.hide()
            reason = c.unavailable_reason(c.mode)
            label = MODES[c.mode].label if c.mode in MODES else c.mode
            if reason:
                self.chat.set_input_state(False, f"{label} can't answer now: {sentence(reason)}")
            elif c.comparisons.running:
                self.chat.set_input_state(False, "The model is busy with a comparison or evaluation (Compare tab).")
            else:
                self.chat.set_input_state(
                    True, f"Ask a question ({label}). Enter sends, Shift+Enter starts a new line."
                )
        for mode, action in self.mode_actions.items():
            action.setEnabled(c.unavailable_reason(mode) is None)
            action.setChecked(mode == c.mode)
        self.stop_action.setEnabled(c.busy)
        if c.model_state == "ready" and c.model_info is not None:
            info = c.model_info
            n_ctx = min(c.settings.n_ctx, info.n_ctx_train) if info.n_ctx_train else c.settings.n_ctx
            self.model_status.setText(f"{c.model_name} · {info.architecture} · context {n_ctx:,} tokens")
        else:
            self.model_status.setText("" if c.model_state == "loading" else "No model loaded")  # PreloadStatus says it

    # -- models and settings ----------------------------------------------------

    def _open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF model", str(Path.home()), "GGUF models (*.gguf)")
        if path:
            self.controller.load_model(path)

    def registry_factory(self):
        """A ModelRegistry on its own connection (for dialogs that work off the GUI thread)."""
        from ragdesk import db
        from ragdesk.llm.registry import ModelRegistry

        return ModelRegistry(db.connect(self.controller.db_path))

    def open_model_manager(self):
        try:
            from ragdesk.ui.models.model_manager import ModelManagerDialog
        except ImportError:
            log.info("model manager not available", exc_info=True)
            self.show_error(
                "The model manager is not available in this version. Use Models ▸ Open model file… "
                "or `ragdesk models pull NAME` in a terminal.",
                "Models",
            )
            return None
        dialog = ModelManagerDialog(self, self.registry_factory, settings=self.controller.settings)
        dialog.finished.connect(lambda _result: self._models_changed())
        if dialog.engine_panel is not None:  # answers generated here or on a server: saved, engine switched
            from ragdesk.ui.settings.engine_panel import apply_choice

            dialog.engine_panel.engineChosen.connect(
                lambda choice: self.controller.apply_settings(apply_choice(self.controller.settings, choice)))
        for name in ("modelsChanged", "changed"):
            signal = getattr(dialog, name, None)
            if signal is not None and hasattr(signal, "connect"):
                signal.connect(self._models_changed)
        dialog.open()
        return dialog

    def _models_changed(self, *_args) -> None:
        self.controller.refresh_models()

    def serve_controller(self):
        """The app's "Serve to other programs" server (created on first use)."""
        if self._serve is None:
            from ragdesk.ui.settings.serve_panel import ServeController

            self._serve = ServeController.for_app(self.controller, self)
        return self._serve

    def open_train_dialog(self):
        """Train a LoRA adapter on a collection (one dialog per window: reopening shows its run)."""
        from ragdesk.ui.training.train_dialog import TrainDialog

        if self.train_dialog is None:
            self.train_dialog = TrainDialog(self.controller, self)
            self.train_dialog.modelsChanged.connect(self._models_changed)
            self.train_dialog.notice.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.train_dialog.open()
        self.train_dialog.raise_()
        return self.train_dialog

    def open_settings(self):
        from ragdesk.paths import choose_data_folder
        from ragdesk.ui.settings.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.controller.settings, self, serve=self.serve_controller(),
                                rerankers=self.controller.reranker_names)

        def accepted() -> None:
            self.controller.apply_settings(dialog.result_settings())
            if dialog.data_folder_changed:
                try:
                    choose_data_folder(dialog.data_folder)
                except OSError as exc:
                    self.show_error(f"Could not remember the new data folder: {exc}.", "Settings")

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def _about(self) -> None:
        from ragdesk import __version__

        QMessageBox.about(
            self,
            "About ragdesk",
            f"<b>ragdesk {__version__}</b><p>Ask questions of your own documents with a local model: "
            f"RAG, merged-LoRA, or both.</p><p>Data folder: {paths.home()}<br>Log: {log_file()}</p>",
        )

    # -- errors -----------------------------------------------------------------

    def show_error(self, message: str, title: str = "ragdesk") -> QMessageBox:
        self.last_error = show_error(self, message, title)
        return self.last_error

    # -- drag and drop anywhere on the window -------------------------------------

    def dragEnterEvent(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.statusBar().showMessage(f"Drop to index into '{self.controller.collection}'")
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self.statusBar().clearMessage()
        super().dragLeaveEvent(event)

    def dropEvent(self, event) -> None:
        paths_ = local_paths(event.mimeData())
        if not paths_:
            event.ignore()
            return
        event.acceptProposedAction()
        self.statusBar().clearMessage()
        self.library.index_paths(paths_)

    def event(self, event) -> bool:
        # Only top-level windows are told that the application palette changed
        # (light/dark switch); the tinted views below must be re-tinted by hand.
        if style.is_theme_event(event):
            style.install().theme_changed()  # the desktop switched: read its scheme again
        if theme.palette_changed(event):
            self.chat.restyle()
            self.citations.restyle()
            self.compare.restyle()
        return super().event(event)

    # -- pages for other views ------------------------------------------------------

    def add_page(self, widget: QWidget, title: str) -> int:
        """Add a page (e.g. Compare) next to Chat in the central area."""
        return self.tabs.addTab(widget, title)

    # -- state ---------------------------------------------------------------------

    def _restore_state(self) -> None:
        state = ui_state()
        geometry = state.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        for key, splitter in self._splitters().items():
            saved = state.value(key)
            if saved is not None:
                splitter.restoreState(saved)
        mode = state.value("chat/mode")
        if mode in MODE_ORDER:
            self.controller.preferred_mode = self.controller.mode = mode
        collection = state.value("chat/collection")
        if isinstance(collection, str) and collection:
            self.controller.collection = collection  # the last used; replaced at the first read if it is gone

    def save_state(self) -> None:
        state = ui_state()
        state.setValue("window/geometry", self.saveGeometry())
        for key, splitter in self._splitters().items():
            state.setValue(key, splitter.saveState())
        state.setValue("chat/mode", self.controller.remembered_mode)
        state.setValue("chat/collection", self.controller.collection)
        state.sync()

    def _splitters(self) -> dict[str, QSplitter]:
        return {
            "window/main_splitter": self.main_split,
            "window/left_splitter": self.left_split,
            "window/citations_splitter": self.citations.split,
        }

    def closeEvent(self, event) -> None:
        try:
            self.save_state()
        except Exception:  # noqa: BLE001 - never block closing
            log.exception("could not save the window state")
        if self.train_dialog is not None:
            self.train_dialog.shutdown()  # a run stops after its current step and keeps its checkpoint
        self.citations.shutdown()
        if self._serve is not None:
            self._serve.shutdown()
        self.controller.shutdown()
        event.accept()


def create_main_window(settings=None) -> MainWindow:
    """The controller and its window, workers started (the model loads in the background)."""
    controller = AppController(settings)
    window = MainWindow(controller)
    controller.start()
    return window
