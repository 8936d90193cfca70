"""Live folders in the app: the folders of every collection stay in sync while the app runs.

A :class:`WatchWorker` on its own thread owns the core's ``FolderWatcher``
(starting it walks the folders to set up the watches: never on the GUI
thread) and polls it for ready batches. :class:`LiveSync`, on the GUI thread,
turns each batch into a ``sync`` job for the index worker, so syncs queue
behind the user's own library jobs and never write at the same time, and
keeps what the Library shows: the folders watched, the last sync, the recent
changes. When watching begins (at start, or live sync switched back on) it
asks for one ``catchup`` job: a re-sync of every collection, cheap when
nothing changed (size and mtime), for what changed while nothing watched.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import deque
from dataclasses import dataclass

from ragdesk.ui.qt import QObject, QTimer, Signal, Slot
from ragdesk.ui.workers.qthreads import WorkerThread
from ragdesk.ui.workers.threads import IndexJob, StoreWorker

log = logging.getLogger(__name__)

LIVE_JOB_KINDS = ("sync", "catchup")
MAX_ACTIVITY = 200  # recent changes kept for the Library's list


@dataclass(frozen=True)
class Activity:
    """One change the live sync made, for the Library's activity list."""

    when: float
    collection: str
    change: str  # added | updated | moved | removed | skipped | failed
    path: str
    detail: str = ""  # the old path of a move, the reason of a skip


def activities(reports, when: float | None = None) -> list[Activity]:
    """What a sync's IndexReports changed, one entry per file."""
    when = when or time.time()
    out = []
    for r in reports or []:
        out += [Activity(when, r.collection, change, path, old or "") for change, path, old in r.changes]
        out += [Activity(when, r.collection, "skipped", path, reason) for path, reason in r.skipped]
    return out


def sync_summary(job) -> str:
    """One sentence for a finished sync or catch-up job."""
    if job.state == "failed":
        return f"Live sync failed: {job.error}"
    reports = job.result or []
    counts = {key: sum(getattr(r, key) for r in reports) for key in ("added", "updated", "moved", "removed")}
    done = ", ".join(f"{n} {key}" for key, n in counts.items() if n)
    if job.kind == "catchup":
        return f"Caught up with changes made while ragdesk was closed: {done}." if done else "Library up to date."
    return f"Synced: {done}." if done else "Synced."


class WatchWorker(StoreWorker):
    """Owns the FolderWatcher on its own thread and reports ready batches of changes."""

    watching = Signal(object, object)  # folders (list[str]), problems (list[(folder, reason)])
    batchReady = Signal(object)  # {WatchTarget: [Path]}

    POLL_MS = 200

    def __init__(self, settings, db_path=None) -> None:
        super().__init__(settings, db_path)
        self.watcher = None
        self._timer: QTimer | None = None

    @Slot()
    def start(self) -> None:
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self._poll)
        if self._open():
            self.rewatch()

    @Slot()
    def rewatch(self) -> None:
        """Watch the folders the collections have now (or nothing when live sync is off)."""
        from ragdesk.ingest import IngestRules
        from ragdesk.store.watcher import FolderWatcher, targets_for

        if self.store is None:
            return
        try:
            targets = targets_for(self.store.sources()) if self.settings.live_sync else []
        except Exception:  # noqa: BLE001 - e.g. locked for longer than the busy timeout: keep the old watch
            log.warning("cannot read the library's folders", exc_info=True)
            return
        rules = IngestRules.from_settings(self.settings)
        old = self.watcher
        if old is not None and set(old.targets) == set(targets) and old.rules == rules:
            return
        self._stop_watcher()
        if targets:
            self.watcher = FolderWatcher(targets, rules)
            try:
                self.watcher.start()
            except Exception as exc:  # noqa: BLE001 - no watching is better than no app
                log.warning("cannot start watching", exc_info=True)
                problems = [("", f"live sync is not available: {exc}")]
                self.watcher = None
                self.watching.emit([], problems)
                return
            self._timer.start()
            self.watching.emit([str(f) for f in self.watcher.folders], list(self.watcher.problems))
        else:
            self.watching.emit([], [])

    @Slot(object)
    def apply_settings(self, settings) -> None:
        super().apply_settings(settings)
        self.rewatch()  # live sync or the ignore rules may have been switched

    def _poll(self) -> None:
        if self.watcher is None:
            return
        batch = self.watcher.take(timeout=0)
        if batch:
            self.batchReady.emit(batch)

    def _stop_watcher(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def close(self) -> None:
        self._stop_watcher()
        super().close()


class LiveSync(QObject):
    """The GUI side of live folders: turns batches into sync jobs and keeps the activity."""

    changed = Signal()  # folders, last sync or activity changed

    _rewatch = Signal()

    def __init__(self, controller) -> None:
        super().__init__(controller)
        self.controller = controller
        self.folders: list[str] = []
        self.problems: list[tuple[str, str]] = []
        self.last_sync: float | None = None
        self.activity: deque[Activity] = deque(maxlen=MAX_ACTIVITY)
        self.pending: dict[int, IndexJob] = {}  # sync jobs sent and not finished
        self.worker = WatchWorker(copy.deepcopy(controller.settings), controller.db_path)
        self.thread = WorkerThread(self.worker, "ragdesk-watch")
        self._rewatch.connect(self.worker.rewatch)
        controller._settings.connect(self.worker.apply_settings)
        self.worker.watching.connect(self._on_watching)
        self.worker.batchReady.connect(self._on_batch)
        controller.jobDone.connect(self._on_job_done)

    @property
    def enabled(self) -> bool:
        return bool(self.controller.settings.live_sync)

    def _on_watching(self, folders, problems) -> None:
        was_watching = bool(self.folders)
        self.folders, self.problems = list(folders), list(problems)
        if folders and not was_watching:
            # At start, or live sync switched back on: what changed meanwhile was not seen.
            self._send(IndexJob(next(self.controller._ids), "catchup", ""))
        self.changed.emit()

    def _on_batch(self, batch) -> None:
        paths = [str(p) for paths in batch.values() for p in paths]
        job = IndexJob(next(self.controller._ids), "sync", "", paths)
        job.batch = batch
        self._send(job)

    def _send(self, job: IndexJob) -> None:
        self.pending[job.id] = job
        self.controller._job.emit(job)  # queued behind the user's own library jobs
        self.changed.emit()

    def cancel_all(self) -> None:
        """Stop the sync jobs queued or running (the app is closing; the next start catches up)."""
        for job in self.pending.values():
            job.cancel.set()

    def _on_job_done(self, job) -> None:
        if job.kind in LIVE_JOB_KINDS:
            self.pending.pop(job.id, None)
            self.last_sync = time.time()
            if job.state == "failed":
                self.activity.append(Activity(self.last_sync, "", "failed", ", ".join(job.paths[:3]), job.error))
            else:
                self.activity.extend(activities(job.result, self.last_sync))
            self.changed.emit()
        elif job.kind in ("index", "resync", "forget", "delete"):
            self._rewatch.emit()  # the collections' folders may have changed
