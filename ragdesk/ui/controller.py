"""AppController: the widgets' one door into the core.

It owns the worker threads and the state every view reflects (model loading
or ready, an answer streaming, library jobs). The user's choices (model,
adapter, collection, mode) belong to the ChatSession on the model worker: the
controller sends each change there and shows what the session reports back
(an adapter the session refused is dropped here too). Which mode runs when
the chosen one can't is decided in the core (``ragdesk.chat.modes.ModeChoice``). Widgets call its methods and listen
to its signals; they never touch the core or a worker themselves.

The GUI thread keeps its own KnowledgeStore for cheap reads (the collection
list, conversations, a document's text); all slow work goes to the workers.
"""

from __future__ import annotations

import copy
import itertools
import logging
from pathlib import Path

from ragdesk.chat.modes import ModeChoice
from ragdesk.settings import Settings
from ragdesk.ui.chat.conversation_commands import ConversationCommands
from ragdesk.ui.chat.engine_worker import ModelWorker
from ragdesk.ui.compare.compare_controller import CompareController
from ragdesk.ui.errors import describe
from ragdesk.ui.library.db_watch import DatabaseWatch
from ragdesk.ui.library.library_commands import LibraryCommands
from ragdesk.ui.library.live_sync import LiveSync
from ragdesk.ui.qt import QObject, QTimer, Signal
from ragdesk.ui.workers.qthreads import WorkerThread
from ragdesk.ui.workers.threads import AskRequest, IndexJob, IndexWorker, SearchWorker

log = logging.getLogger(__name__)



class AppController(LibraryCommands, ConversationCommands, QObject):
    """State and commands of the app, independent of any widget."""

    modelChanged = Signal()  # model_state, model_name or model_info changed
    catalogChanged = Signal()  # the lists of models and adapters changed
    availabilityChanged = Signal()
    modeChanged = Signal(str)  # the effective mode
    adapterChanged = Signal()
    collectionChanged = Signal(str)
    busyChanged = Signal(bool)
    answerStarted = Signal(int, int)  # request id, conversation id
    answerTokens = Signal(int, str)
    answerFinished = Signal(int, object)  # request id, Answer
    answerFailed = Signal(int, str)  # request id, sentence ("" when dropped before it began)
    answerStage = Signal(int, object)  # request id, ragdesk.chat.progress.Stage
    preloadChanged = Signal(str)  # preload_status changed: "Loading model…", "Ready" or ""
    conversationsChanged = Signal()
    collectionsChanged = Signal()  # collection_infos was refreshed
    jobAdded = Signal(object)
    jobProgress = Signal(object, object)  # IndexJob, IndexProgress
    jobDone = Signal(object)  # IndexJob (state done, cancelled or failed)
    searchDone = Signal(str, object)  # query, list[Hit]
    errorOccurred = Signal(str, str)  # title, sentence
    settingsChanged = Signal()

    # Queued calls into the workers (connected across threads).
    _load = Signal(object)
    _list_models = Signal()
    _adapter = Signal(object, float)
    _mode = Signal(str)
    _collection = Signal(object)
    _refresh = Signal()
    _ask = Signal(object)
    _warm = Signal()
    _job = Signal(object)
    _search = Signal(object)
    _list_collections = Signal(int)  # request number, handed back with the answer
    _settings = Signal(object)  # each worker keeps its own copy

    COLLECTIONS_REFRESH_MS = 1500  # library counts refresh at most this often during a run

    def __init__(self, settings: Settings | None = None, db_path: Path | None = None, parent=None) -> None:
        super().__init__(parent)
        from ragdesk.chat.conversations import ConversationStore
        from ragdesk.store import KnowledgeStore

        self.settings = settings or Settings.load()
        self.store = KnowledgeStore(db_path, self.settings)  # DatabaseError propagates: the app can't start
        self.db_path = self.store.db_path
        self.conversations = ConversationStore(self.store.conn)

        self.model_state = "none"  # none | loading | ready
        self.model_name: str | None = None
        self.model_info = None
        self.loading_name: str | None = None
        self._remember_model = True  # save the next loaded model as the one to load at start
        self.availability: dict[str, str | None] | None = None
        self.models: list = []  # ModelEntry, reported by the model worker
        self.adapter_entries: list = []  # adapters that fit the loaded model
        self.catalog_known = False
        self.reranker_names: list[str] = []  # installed rerankers, for the Settings dialog
        self.mode_choice = ModeChoice("rag")  # the user's mode and the fallback policy (core)
        self.mode = "rag"
        self.adapter: str | None = None
        self.collection: str = self.settings.default_collection
        self.request: AskRequest | None = None
        self.warming = False  # the model worker is preloading (search path, prompt prefix)
        self.warmed: dict | None = None  # what the last preload did (ChatSession.warm_up)
        self.jobs: dict[int, IndexJob] = {}
        self._ids = itertools.count(1)
        self._shut_down = False
        self._collections_timer = QTimer(self)
        self._collections_timer.setSingleShot(True)
        self._collections_timer.setInterval(self.COLLECTIONS_REFRESH_MS)
        self._collections_timer.timeout.connect(self.refresh_collections)
        self.collection_infos: list | None = None  # CollectionInfo, None until first read
        # Re-reads asked for so far, and the latest one that collection_infos answers: a read
        # asked for before a job ended can arrive after it, with the job's changes missing.
        self.collection_requests = 0
        self.collections_answer_to = 0
        self.source_counts: dict[str, dict[str, int]] = {}
        self.db_watch = DatabaseWatch(self.store.conn, self)  # `ragdesk index` in a terminal, another window
        self.db_watch.changed.connect(self._on_external_change)

        self.model_worker = ModelWorker(self.settings, self.db_path)
        self.index_worker = IndexWorker(self.settings, self.db_path)
        self.search_worker = SearchWorker(self.settings, self.db_path)
        self._threads = [
            WorkerThread(self.model_worker, "ragdesk-model"),
            WorkerThread(self.index_worker, "ragdesk-index"),
            WorkerThread(self.search_worker, "ragdesk-search"),
        ]
        self._wire()
        self.comparisons = CompareController(self)  # compare and evaluate, on the model worker
        self.live_sync = LiveSync(self)  # the collections' folders, kept in sync while the app runs
        self._threads.append(self.live_sync.thread)

    def _wire(self) -> None:
        mw, iw, sw = self.model_worker, self.index_worker, self.search_worker
        self._load.connect(mw.load_model)
        self._list_models.connect(mw.list_models)
        self._adapter.connect(mw.set_adapter)
        self._mode.connect(mw.set_mode)
        self._collection.connect(mw.set_collection)
        self._refresh.connect(mw.refresh_availability)
        self._ask.connect(mw.ask)
        self._warm.connect(mw.warm_up)
        self._job.connect(iw.run_job)
        self._search.connect(sw.search)
        self._list_collections.connect(sw.list_collections)
        sw.collections.connect(self._on_collections)
        for worker in (mw, iw, sw):
            self._settings.connect(worker.apply_settings)

        mw.modelLoading.connect(self._on_model_loading)
        mw.modelLoaded.connect(self._on_model_loaded)
        mw.modelFailed.connect(self._on_model_failed)
        mw.choices.connect(self._on_choices)
        mw.availability.connect(self._on_availability)
        mw.catalog.connect(self._on_catalog)
        mw.rerankers.connect(self._on_rerankers)
        mw.problem.connect(self.errorOccurred)
        mw.answerStarted.connect(self._on_answer_started)
        mw.answerTokens.connect(self.answerTokens)
        mw.answerFinished.connect(self._on_answer_finished)
        mw.answerFailed.connect(self._on_answer_failed)
        mw.answerStage.connect(self.answerStage)
        mw.warming.connect(self._on_warming)
        mw.warmed.connect(self._on_warmed)
        self.modelChanged.connect(self._preload_changed)
        # Bound methods, not lambdas: a lambda connected to a worker's signal
        # runs on the worker's thread, a slot of this object on the GUI thread.
        iw.jobStarted.connect(self._on_job_started)
        iw.jobProgress.connect(self._on_job_progress)
        iw.jobFinished.connect(self._on_job_done)
        iw.jobFailed.connect(self._on_job_failed)
        sw.results.connect(self._on_search_results)
        sw.searchFailed.connect(self._on_search_failed)
        for w in (mw, iw, sw):
            w.startFailed.connect(self._on_start_failed)

    def _on_job_started(self, job) -> None:
        self.jobProgress.emit(job, job.progress)

    def _on_search_results(self, request, hits) -> None:
        self.searchDone.emit(request.query, hits)

    def _on_search_failed(self, _request, message: str) -> None:
        self.errorOccurred.emit("Search failed", message)

    def _on_start_failed(self, message: str) -> None:
        self.errorOccurred.emit("The library could not be opened", message)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start the workers; reload the model used last time, in the background."""
        self.model_worker.start_collection = self.collection  # before its thread runs: no race
        for t in self._threads:
            t.start()
        self.db_watch.start()
        if self.settings.adapter:
            self.set_adapter(self.settings.adapter)
        # The preload: the model (then the worker warms up what questions need), or,
        # without one, at least the search path. A question sent meanwhile queues behind it.
        if self.settings.model:
            self.load_model(self.settings.model, remember=False)
        else:
            self._warm.emit()

    def shutdown(self, timeout_ms: int = 20_000) -> None:
        """Cancel everything, let each worker finish its current call, stop the threads."""
        if self._shut_down:
            return
        self._shut_down = True
        self.db_watch.stop()
        if self.request is not None:
            self.request.cancel.set()
        self.comparisons.cancel()
        for job in self.jobs.values():
            job.cancel.set()
        self.live_sync.cancel_all()
        for t in self._threads:
            t.stop(timeout_ms)
        # Results the workers posted before they stopped may still be queued for this
        # thread: nothing may act on them now (the window is gone, the store closed).
        self.blockSignals(True)
        self.store.close()

    # -- model -------------------------------------------------------------

    def load_model(self, name_or_path: str | None = None, *, remember: bool = True) -> None:
        """Load a model on the model worker (the default built-in one when None)."""
        self._remember_model = remember
        self.model_state = "loading"
        self.loading_name = str(name_or_path) if name_or_path else None
        self.modelChanged.emit()
        self._load.emit(name_or_path)

    def _on_model_loading(self, what: str) -> None:
        self.loading_name = what
        self.modelChanged.emit()

    def _on_model_loaded(self, name: str, info) -> None:
        self.model_state, self.model_name, self.model_info = "ready", name, info
        if self._remember_model:
            registered = any(e.name == name for e in self.models)
            self.settings.model = name if registered else str(info.path)
            self._save_settings()
        self.modelChanged.emit()

    def _on_model_failed(self, message: str, still_loaded: bool) -> None:
        self.model_state = "ready" if still_loaded else "none"
        if not still_loaded:
            self.model_name = self.model_info = None
        self.modelChanged.emit()
        self.errorOccurred.emit("Could not load the model", message)

    @property
    def preload_status(self) -> str:
        """The status line's quiet word on the background preload."""
        if self.model_state == "loading" or self.warming:
            return "Loading model…"
        return "Ready" if self.model_state == "ready" else ""

    def _preload_changed(self) -> None:
        self.preloadChanged.emit(self.preload_status)

    def _on_warming(self) -> None:
        self.warming = True
        self._preload_changed()

    def _on_warmed(self, done) -> None:
        self.warming, self.warmed = False, dict(done)
        self._preload_changed()

    def refresh_models(self) -> None:
        """Ask the model worker to list models and adapters again (after the manager changed them)."""
        self._list_models.emit()

    def _on_catalog(self, models, adapters) -> None:
        self.models, self.adapter_entries, self.catalog_known = list(models), list(adapters), True
        self.catalogChanged.emit()

    def _on_rerankers(self, names) -> None:
        self.reranker_names = list(names)

    def default_model_available(self) -> bool:
        """Whether the built-in default model is installed (assumed until the worker has looked)."""
        from ragdesk.llm.registry import DEFAULT_MODEL

        return not self.catalog_known or any(e.name == DEFAULT_MODEL for e in self.models)

    # -- choices -----------------------------------------------------------

    def set_mode(self, mode: str) -> bool:
        """Choose the mode for the next message; False (and no change) if it can't run now."""
        if not self.mode_choice.choose(mode, self.availability):
            return False
        self._mode.emit(mode)
        self._settle_mode()
        return True

    @property
    def preferred_mode(self) -> str:
        """The mode the user chose (the effective one, ``mode``, may be a fallback)."""
        return self.mode_choice.preferred

    @preferred_mode.setter
    def preferred_mode(self, mode: str) -> None:
        self.mode_choice.preferred = mode

    @property
    def remembered_mode(self) -> str:
        """The mode to start with next time: RAG when "Model only" was chosen for want of documents."""
        return self.mode_choice.remembered

    def unavailable_reason(self, mode: str) -> str | None:
        return None if self.availability is None else self.availability.get(mode)

    def _settle_mode(self) -> None:
        """Show the effective mode the core's policy picks for the current availability."""
        self.mode = self.mode_choice.effective(self.availability)
        self.modeChanged.emit(self.mode)

    def _on_availability(self, reasons: dict) -> None:
        self.availability = dict(reasons)
        self.mode_choice.reasons_changed(self.availability)
        self.availabilityChanged.emit()
        self._settle_mode()

    def _on_choices(self, choices) -> None:
        """The session's choices after a change: the adapter and collection shown are the session's."""
        if choices.adapter != self.adapter:
            self.adapter = choices.adapter  # e.g. None after the session refused an adapter
            self.adapterChanged.emit()
        if choices.collection and choices.collection != self.collection:
            self.collection = choices.collection
            self.collectionChanged.emit(choices.collection)

    def set_adapter(self, name: str | None) -> None:
        self.adapter = name or None
        if self.settings.adapter != self.adapter:
            self.settings.adapter = self.adapter
            self._save_settings()
        self._adapter.emit(self.adapter, 1.0)
        self.adapterChanged.emit()

    def set_collection(self, name: str) -> None:
        if name and name != self.collection:
            self.collection = name
            self._collection.emit(name)
            self.collectionChanged.emit(name)

    # -- chat --------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.request is not None

    def can_ask(self) -> bool:
        """Whether a question can be sent now; while a model loads it waits for it on the worker."""
        return (self.model_state in ("ready", "loading") and not self.busy and not self.comparisons.running
                and not self.unavailable_reason(self.mode))

    def ask(self, question: str, conversation_id: int | None = None) -> AskRequest | None:
        """Send a question in the current mode; None if the app can't take one now."""
        question = question.strip()
        if not question or not self.can_ask():
            return None
        self.request = AskRequest(next(self._ids), question, self.mode, self.collection, conversation_id)
        self.busyChanged.emit(True)
        self._ask.emit(self.request)
        return self.request

    def cancel_answer(self) -> bool:
        """Stop the answer being generated (it keeps what was written so far)."""
        if self.request is None:
            return False
        self.request.cancel.set()
        return True

    def _on_answer_started(self, request_id: int, conversation_id: int) -> None:
        if self.request is not None and self.request.id == request_id:
            self.request.conversation_id = conversation_id
        self.answerStarted.emit(request_id, conversation_id)
        self.conversationsChanged.emit()

    def _finish_request(self, request_id: int) -> None:
        if self.request is not None and self.request.id == request_id:
            self.request = None
            self.busyChanged.emit(False)

    def _on_answer_finished(self, request_id: int, answer) -> None:
        self._finish_request(request_id)
        self.answerFinished.emit(request_id, answer)
        self.conversationsChanged.emit()

    def _on_answer_failed(self, request_id: int, message: str) -> None:
        self._finish_request(request_id)
        self.answerFailed.emit(request_id, message)
        if message:
            self.errorOccurred.emit("Could not answer", message)
        self.conversationsChanged.emit()

    # -- settings ----------------------------------------------------------

    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except OSError as exc:
            self.errorOccurred.emit("Could not save the settings", describe(exc))

    def apply_settings(self, new: Settings) -> None:
        """Save new settings and hand a copy to each worker (engine changes reload the model)."""
        self.settings = new
        self.store.settings = new
        self._save_settings()
        self._settings.emit(copy.deepcopy(new))
        self.settingsChanged.emit()
