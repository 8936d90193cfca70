"""The model worker: owns the llama.cpp Engine and the ChatSession, on its own thread.

It loads models, answers questions (streaming coalesced pieces to the GUI),
reports which modes can run and which models and adapters exist; comparisons
and evaluation runs come from its base class (:mod:`ragdesk.ui.compare.compare_worker`).
ONE thread owns the Engine; the GUI only sends it queued requests and sets cancel flags.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ragdesk.ui.compare.compare_worker import ComparisonWork
from ragdesk.ui.errors import describe
from ragdesk.ui.qt import Signal, Slot
from ragdesk.ui.workers.threads import AskRequest, TokenSink

log = logging.getLogger(__name__)


class ModelWorker(ComparisonWork):
    """Owns the Engine and the ChatSession: loads models, answers questions, compares and evaluates modes."""

    ready = Signal()
    problem = Signal(str, str)  # title, sentence: failures outside a request (adapter, settings)
    modelLoading = Signal(str)
    modelLoaded = Signal(str, object)  # registry name, ModelInfo
    modelFailed = Signal(str, bool)  # sentence, whether a model is still loaded
    availability = Signal(dict)  # mode -> reason it can't run, or None
    choices = Signal(object)  # the session's Choices, after every change (the controller shows these)
    catalog = Signal(object, object)  # models, adapters that fit the loaded model (all if none is)
    rerankers = Signal(object)  # names of the installed rerankers
    answerStarted = Signal(int, int)  # request id, conversation id
    answerTokens = Signal(int, str)
    answerFinished = Signal(int, object)  # request id, Answer
    answerFailed = Signal(int, str)  # request id, sentence ("" when cancelled before it began)
    answerStage = Signal(int, object)  # request id, ragdesk.chat.progress.Stage
    warming = Signal()  # the background preload (search path, prompt prefix) began
    warmed = Signal(object)  # ... and ended: what was done (ChatSession.warm_up's dict)

    TOKEN_INTERVAL_S = 0.03

    def __init__(self, settings, db_path: Path | None = None) -> None:
        super().__init__(settings, db_path)
        self.session = None
        self._model_ref: str | None = None  # what to reload after an engine setting changes
        # The collection the window starts on (its last used), set before the thread starts:
        # the session's first choices then carry it, instead of the settings' default
        # briefly replacing it in the window while the collections are first read.
        self.start_collection: str | None = None

    @Slot()
    def start(self) -> None:
        if not self._open():
            return
        from ragdesk.chat import ChatSession

        self.session = ChatSession(self.store, settings=self.settings)
        if self.start_collection:
            self.session.collection = self.start_collection
        self._report_availability()
        self.list_models()
        self.ready.emit()

    def _report_availability(self) -> None:
        from ragdesk.chat import MODES

        if self.session is None:
            return
        self.choices.emit(self.session.choices())
        self.availability.emit({mode: self.session.unavailable_reason(mode) for mode in MODES})

    @Slot()
    def list_models(self) -> None:
        """Report the registry's models and adapters (reading built-ins parses GGUF headers: not for the GUI thread)."""
        if self.session is None:
            return
        registry = self.session.registry
        try:
            models = registry.list("model")
            name = self.session.model_name
            if name and any(m.name == name for m in models):
                adapters = registry.adapters_for(name)
            else:
                adapters = registry.list("adapter")
            rerankers = [e.name for e in registry.list("reranker") if e.exists]
        except Exception:  # noqa: BLE001 - an unreadable registry shows as empty
            log.exception("cannot list models")
            models, adapters, rerankers = [], [], []
        self.catalog.emit(models, adapters)
        self.rerankers.emit(rerankers)

    @Slot(object)
    def load_model(self, name_or_path) -> None:
        if self.session is None:
            return
        self.modelLoading.emit(str(name_or_path or "the default model"))
        try:
            info = self.session.load_model(name_or_path)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a dialog
            log.warning("loading model %r failed", name_or_path, exc_info=True)
            self.modelFailed.emit(describe(exc), self.session.engine.loaded)
            return
        self._model_ref = str(name_or_path) if name_or_path else self.session.model_name
        self.modelLoaded.emit(self.session.model_name or Path(info.path).name, info)
        self.list_models()  # the adapters that fit depend on the model
        self.warm_up()  # a new model has a new prompt prefix to evaluate

    @Slot()
    def warm_up(self) -> None:
        """Preload what the first question needs: the search path and the prompt's fixed prefix.

        Queued right after the model at start, on this same thread: a question sent
        meanwhile waits for this preload, never starts a second load.
        """
        if self.session is None:
            return
        self.warming.emit()
        done = {}
        try:
            done = self.session.warm_up()
        except Exception:  # noqa: BLE001 - a preload is an optimisation: the question will say what is wrong
            log.warning("preloading failed", exc_info=True)
        self.warmed.emit(done)

    @Slot(object, float)
    def set_adapter(self, name_or_path, scale: float = 1.0) -> None:
        if self.session is None:
            return
        try:
            self.session.choose_adapter(name_or_path, scale)
        except Exception as exc:  # noqa: BLE001
            log.warning("choosing adapter %r failed", name_or_path, exc_info=True)
            self.session.choose_adapter(None)
            self.problem.emit("Could not use the adapter", describe(exc))
        self._report_availability()

    @Slot(object)
    def set_collection(self, name) -> None:
        if self.session is not None:
            self.session.collection = name
            self._report_availability()

    @Slot(str)
    def set_mode(self, mode: str) -> None:
        if self.session is not None:
            self.session.mode = mode  # the mode the user prefers; each request names the one it runs in
            self._report_availability()

    @Slot()
    def refresh_availability(self) -> None:
        self._report_availability()

    @Slot(object)
    def apply_settings(self, settings) -> None:
        old = self.settings
        super().apply_settings(settings)
        settings = self.settings
        if self.session is None:
            return
        self.session.settings = settings
        engine_knobs = ("n_threads", "n_threads_batch", "n_ctx", "n_gpu_layers", "engine_url", "engine_key", "engine_model",
                        "engine_adapters", "engine_timeout")
        if all(getattr(old, k) == getattr(settings, k) for k in engine_knobs):
            return
        from ragdesk.llm.backends import create_engine

        was_loaded, adapter = self.session.engine.loaded, self.session.adapter_name
        self.session.engine.close()
        self.session.engine = create_engine(settings)  # this computer's llama.cpp or a server
        self.session.choose_adapter(None)
        if (was_loaded and self._model_ref) or getattr(self.session.engine, "remote", False):
            self.load_model(self._model_ref)  # a reload for the new context size/threads; a server connects
        if adapter and self.session.engine.loaded:
            self.set_adapter(adapter)  # chosen again the new engine's way (a server needs a mapping)
        self._report_availability()

    def _piece(self, request: AskRequest, sink: TokenSink, piece: str) -> None:
        """Called for every generated piece (tests hook it to hold a stream open)."""
        sink.add(piece)

    def _stage(self, request: AskRequest, stage) -> None:
        # Every stage comes before the first piece of text: nothing in the sink to overtake.
        self.answerStage.emit(request.id, stage)

    @Slot(object)
    def ask(self, request: AskRequest) -> None:
        if self.session is None:
            self.answerFailed.emit(request.id, "The chat engine is not running.")
            return
        engine = self.session.engine
        if not engine.loaded and not getattr(engine, "remote", False):  # asked while a load ran that failed
            self.answerFailed.emit(request.id, "No language model is loaded: load one first.")
            return
        if request.cancel.is_set():
            self.answerFailed.emit(request.id, "")
            return
        created = None
        try:
            cid = request.conversation_id
            if cid is None:
                title = request.question.strip().splitlines()[0][:60] if request.question.strip() else "New chat"
                cid = created = self.session.conversations.create(title).id
            self.answerStarted.emit(request.id, cid)
            sink = TokenSink(lambda text: self.answerTokens.emit(request.id, text), self.TOKEN_INTERVAL_S)
            answer = self.session.ask(
                request.question,
                mode=request.mode,
                collection=request.collection,
                conversation_id=cid,
                on_token=lambda piece: self._piece(request, sink, piece),
                cancel=request.cancel.is_set,
                on_progress=lambda stage: self._stage(request, stage),
            )
            sink.flush()
        except Exception as exc:  # noqa: BLE001
            log.warning("answering failed", exc_info=True)
            if created is not None:
                self._drop_if_empty(created)
            self.answerFailed.emit(request.id, describe(exc))
            return
        self.answerFinished.emit(request.id, answer)

    def _drop_if_empty(self, conversation_id: int) -> None:
        try:
            if not self.session.conversations.messages(conversation_id):
                self.session.conversations.delete(conversation_id)
        except Exception:  # noqa: BLE001 - best effort
            log.exception("could not remove an empty conversation")

    def close(self) -> None:
        if self.session is not None:
            try:
                self.session.engine.close()
            finally:
                self.session = None
        super().close()
