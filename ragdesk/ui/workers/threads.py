"""Background workers: QObjects that live on QThreads, drive the core and report by signals.

Each worker opens its own KnowledgeStore (its own SQLite connection) in its
own thread, so long work never holds the connection the GUI reads from. The
GUI calls a worker only through queued signals and never waits for it;
cancellation is a ``threading.Event`` the GUI sets and the core polls between
files or tokens. Threads are never terminated: shutdown cancels, lets the
current call return, closes the worker's resources and quits its event loop.

Heavy libraries (torch, sentence-transformers, llama.cpp) are imported by the
core inside these workers' calls, never on the GUI thread. The model worker
lives in :mod:`ragdesk.ui.chat.engine_worker`.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ragdesk.ui.errors import describe
from ragdesk.ui.qt import QMetaObject, QObject, Qt, Signal, Slot
from ragdesk.ui.workers.qthreads import close_then_quit

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- requests


@dataclass
class AskRequest:
    """One question for the model worker."""

    id: int
    question: str
    mode: str
    collection: str | None
    conversation_id: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class IndexJob:
    """One library operation; the GUI reads ``state``/``progress``/``result`` after each signal."""

    id: int
    # "index" | "resync" | "forget" | "create" | "delete" | "windows-on" | "windows-off"
    # | live sync: "sync" | "catchup"
    kind: str
    collection: str
    paths: list[str] = field(default_factory=list)
    batch: object = None  # a sync job's {WatchTarget: [Path]} from the folder watcher
    cancel: threading.Event = field(default_factory=threading.Event)
    state: str = "queued"  # queued | running | done | cancelled | failed
    progress: object = None  # the latest IndexProgress
    result: object = None  # IndexReport (index/resync), list of them (sync/catchup), documents removed (forget)
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")


@dataclass
class SearchRequest:
    id: int
    query: str
    collection: str | None
    k: int | None = None


# ---------------------------------------------------------------------------- base


class Throttle:
    """Lets progress reports through at most every ``interval_s``; a new phase or ``force`` always passes.

    Workers report far more often than a repaint is worth (every file, step or 64 KiB).
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last = 0.0
        self._phase: object = Throttle  # no phase seen yet: the first report passes

    def ready(self, phase: object = None, *, force: bool = False) -> bool:
        now = time.monotonic()
        if force or phase != self._phase or now - self._last >= self.interval_s:
            self._last, self._phase = now, phase
            return True
        return False


class StoreWorker(QObject):
    """A worker with its own KnowledgeStore, opened in its own thread by ``start``."""

    startFailed = Signal(str)

    def __init__(self, settings, db_path: Path | None = None) -> None:
        super().__init__()
        self.settings = copy.deepcopy(settings)
        self.db_path = db_path
        self.store = None

    def _open(self) -> bool:
        from ragdesk.store import KnowledgeStore

        try:
            self.store = KnowledgeStore(self.db_path, self.settings)
        except Exception as exc:  # noqa: BLE001 - a locked or damaged database is reported, not raised
            log.exception("%s could not open the database", type(self).__name__)
            self.startFailed.emit(describe(exc))
            return False
        return True

    @Slot(object)
    def apply_settings(self, settings) -> None:
        settings = copy.deepcopy(settings)  # one object is delivered to every worker: keep our own
        self.settings = settings
        if self.store is not None:
            self.store.settings = settings

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    @Slot()
    def shutdown(self) -> None:
        """Close resources in this thread, hand the object back to the GUI thread, quit."""
        close_then_quit(self)


class TokenSink:
    """Coalesces streamed pieces: at most one signal per ``interval`` (the first at once)."""

    def __init__(self, emit, interval: float) -> None:
        self.emit, self.interval = emit, interval
        self.pending: list[str] = []
        self.last = 0.0

    def add(self, piece: str) -> None:
        self.pending.append(piece)
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self.pending:
            self.emit("".join(self.pending))
            self.pending.clear()
        self.last = now if now is not None else time.monotonic()


class TaskWorker(QObject):
    """A worker that runs one cancellable task at a time and can be stopped from the GUI thread.

    Subclasses set ``current`` while a task runs (its ``cancel`` event stops it) and free
    what they opened in ``close``, which ``shutdown`` calls in the worker's own thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current = None  # the task running now
        self._stopped = False

    def close(self) -> None:
        """Free what the worker opened (runs in the worker's thread)."""

    def stop(self) -> None:
        """From the GUI thread: cancel the running task and shut down after the current call."""
        task = self.current
        if task is not None:
            task.cancel.set()
        if not self._stopped:
            QMetaObject.invokeMethod(self, "shutdown", Qt.ConnectionType.QueuedConnection)

    @Slot()
    def shutdown(self) -> None:
        """Close, hand the object back to the GUI thread and quit, once."""
        if self._stopped:  # asked twice (dialog closed, then the app quit)
            return
        self._stopped = True
        close_then_quit(self)


# ---------------------------------------------------------------------------- library


class IndexWorker(StoreWorker):
    """Runs library jobs one after another: index, re-sync, forget, create, delete, and live-sync jobs."""

    ready = Signal()
    jobStarted = Signal(object)
    jobProgress = Signal(object, object)  # job, IndexProgress snapshot
    jobFinished = Signal(object)  # job (state done or cancelled, result set)
    jobFailed = Signal(object, str)

    PROGRESS_INTERVAL_S = 0.1

    @Slot()
    def start(self) -> None:
        if self._open():
            self.ready.emit()

    @Slot(object)
    def run_job(self, job: IndexJob) -> None:
        if job.cancel.is_set():  # cancelled while it waited in the queue
            job.state = "cancelled"
            self.jobFinished.emit(job)
            return
        if self.store is None:
            job.state, job.error = "failed", "The library is not available (the database could not be opened)."
            self.jobFailed.emit(job, job.error)
            return
        job.state = "running"
        self.jobStarted.emit(job)
        throttle = Throttle(self.PROGRESS_INTERVAL_S)

        def progress(snapshot) -> None:
            # A new phase (and the end) always gets through, and so does each OCR page of a scan.
            if throttle.ready((snapshot.phase, snapshot.detail)):
                copy_ = replace(snapshot)  # the indexer keeps mutating its own object
                job.progress = copy_
                self.jobProgress.emit(job, copy_)

        try:
            if job.kind == "index":
                job.result = self.store.index(job.paths, job.collection, progress=progress, cancel=job.cancel.is_set)
            elif job.kind == "resync":
                job.result = self.store.resync(job.collection, progress=progress, cancel=job.cancel.is_set)
            elif job.kind == "forget":
                job.result = self.store.forget(job.paths, job.collection)
            elif job.kind == "create":
                self.store.create_collection(job.collection)
            elif job.kind == "delete":
                self.store.delete_collection(job.collection)
            elif job.kind in ("windows-on", "windows-off"):
                self.store.set_sentence_windows(job.collection, job.kind == "windows-on")
                if job.kind == "windows-on":  # the chunks indexed so far get their windows
                    job.result = self.store.resync(job.collection, progress=progress, cancel=job.cancel.is_set)
            elif job.kind == "sync":
                from ragdesk.store.watcher import sync_batch

                job.result = sync_batch(self.store, job.batch, cancel=job.cancel.is_set)
            elif job.kind == "catchup":  # what changed while the app was closed (cheap if nothing did)
                job.result = self.store.catch_up(cancel=job.cancel.is_set)
            else:
                raise ValueError(f"unknown library job {job.kind!r}")
        except Exception as exc:  # noqa: BLE001
            log.warning("library job %s on %r failed", job.kind, job.collection, exc_info=True)
            job.state, job.error = "failed", describe(exc)
            self.jobFailed.emit(job, job.error)
            return
        job.state = "cancelled" if getattr(job.result, "cancelled", False) else "done"
        self.jobFinished.emit(job)


class SearchWorker(StoreWorker):
    """Reads the library for the GUI: searches (no language model needed) and collection counts.

    Counting a collection's size scans database pages, which can take a while on
    a big library: never on the GUI thread.
    """

    ready = Signal()
    results = Signal(object, object)  # SearchRequest, list[Hit]
    searchFailed = Signal(object, str)
    collections = Signal(object, object, int)  # list[CollectionInfo], {name: {source: documents}}, request

    @Slot()
    def start(self) -> None:
        if self._open():
            self.list_collections(0)
            self.ready.emit()

    @Slot(int)
    def list_collections(self, request: int) -> None:
        """Read the collections and their counts; ``request`` (the controller's number) goes back with them."""
        if self.store is None:
            return
        try:
            infos = self.store.collections()
            counts = {info.name: self._source_counts(info) for info in infos}
        except Exception:  # noqa: BLE001 - e.g. locked for longer than the busy timeout: try next time
            log.warning("cannot list collections", exc_info=True)
            return
        self.collections.emit(infos, counts, request)

    def _source_counts(self, info) -> dict[str, int]:
        """Documents under each folder or file the collection was built from."""
        import os

        from ragdesk import db

        counts = {}
        for source in info.sources:
            prefix = source.rstrip(os.sep) + os.sep
            counts[source] = int(db.scalar(
                self.store.conn,
                "SELECT COUNT(*) FROM documents WHERE collection_id = ? AND (path = ? OR substr(path, 1, ?) = ?)",
                (info.collection.id, source, len(prefix), prefix),
            ) or 0)
        return counts

    @Slot(object)
    def search(self, request: SearchRequest) -> None:
        if self.store is None:
            self.searchFailed.emit(request, "The library is not available.")
            return
        try:
            hits = self.store.search(request.query, request.collection, k=request.k)
        except Exception as exc:  # noqa: BLE001
            log.warning("search failed", exc_info=True)
            self.searchFailed.emit(request, describe(exc))
            return
        self.results.emit(request, hits)
