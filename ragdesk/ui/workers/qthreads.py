"""The one way the app runs work off the GUI thread.

A worker is a QObject moved to its own QThread (:func:`move_to_new_thread`);
the GUI talks to it by queued signals and cancels by setting the task's event.
Threads are never terminated: stopping asks the worker to shut down after its
current call (:func:`close_then_quit` runs in its thread, frees what it opened
and quits the loop). A QThread destroyed while it runs aborts the app, so a
thread whose owner lets go before it has ended is *retired*: the keeper here
holds it until it finishes, and waits for all of them when the app quits.
"""

from __future__ import annotations

import logging

from ragdesk.ui.qt import QCoreApplication, QMetaObject, QObject, Qt, QThread, Slot

log = logging.getLogger(__name__)


def close_then_quit(worker) -> None:
    """In the worker's thread: ``worker.close()``, hand the object back to the GUI thread, quit the thread."""
    try:
        worker.close()
    except Exception:  # noqa: BLE001 - shutting down anyway
        log.exception("error while closing %s", type(worker).__name__)
    app = QCoreApplication.instance()
    thread = QThread.currentThread()
    if app is not None and thread is not app.thread():
        worker.moveToThread(app.thread())  # so the GUI thread may delete it safely
        thread.quit()


def move_to_new_thread(worker: QObject, name: str) -> QThread:
    """A new, not yet started QThread named ``name`` that owns ``worker`` and calls its ``start``."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.start)
    return thread


def _ask_to_stop(worker) -> None:
    """Cancel the worker's task if it has one and let it shut down after its current call."""
    if hasattr(worker, "stop"):
        worker.stop()  # TaskWorker: cancels the running task, then queues its shutdown
    else:
        QMetaObject.invokeMethod(worker, "shutdown", Qt.ConnectionType.QueuedConnection)


class WorkerThread:
    """A worker and the QThread it lives on."""

    def __init__(self, worker: QObject, name: str) -> None:
        self.worker = worker
        self.thread = move_to_new_thread(worker, name)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_ms: int) -> bool:
        """Ask the worker to shut down after its current call; True if the thread ended in time."""
        if not self.thread.isRunning():
            return True
        QMetaObject.invokeMethod(self.worker, "shutdown", Qt.ConnectionType.QueuedConnection)
        done = self.thread.wait(timeout_ms)
        if not done:
            log.warning("thread %s did not stop within %d ms", self.thread.objectName(), timeout_ms)
        return done


class _Keeper(QObject):
    """Holds threads that must outlive their owner until they end; waits for them at exit."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[QThread, tuple[QObject, object, bool]] = {}  # thread -> (worker, owner, retired)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.wait_all)

    def add(self, thread: QThread, worker: QObject, owner: object = None, retired: bool = False) -> None:
        if thread not in self.live:
            thread.finished.connect(self.reap)  # queued: this object lives in the GUI thread
        self.live[thread] = (worker, owner, retired)

    @Slot()
    def reap(self) -> None:
        for thread in [t for t in self.live if t.isFinished()]:
            thread.wait()
            del self.live[thread]

    @Slot()
    def wait_all(self, timeout_ms: int = 15_000) -> None:
        """Cancel what still runs, stop every worker, wait for the threads."""
        for thread, (worker, _owner, _retired) in list(self.live.items()):
            if thread.isRunning():
                _ask_to_stop(worker)
        for thread in list(self.live):
            thread.wait(timeout_ms)
        self.reap()


_keeper: _Keeper | None = None


def _the_keeper() -> _Keeper:
    global _keeper
    if _keeper is None:
        _keeper = _Keeper()
    return _keeper


def new_worker_thread(worker: QObject, name: str, owner: object = None) -> QThread:
    """``worker`` on a new, not yet started thread that is held until it ends (connect, then start it).

    For a worker whose owner (a dialog) may close while it still runs; the app's
    long-lived workers use :class:`WorkerThread` and are stopped by their owner.
    """
    thread = move_to_new_thread(worker, name)
    _the_keeper().add(thread, worker, owner)
    return thread


def retire(thread: QThread | None, worker: QObject | None, owner: object = None) -> None:
    """Let go of a worker without waiting: cancel it, stop it after its current call, keep its thread."""
    if thread is None or worker is None:
        return
    _ask_to_stop(worker)
    _the_keeper().add(thread, worker, owner, retired=True)


def retiring(owner: object) -> list[QThread]:
    """The threads ``owner`` retired that are still winding down."""
    if _keeper is None:
        return []
    return [t for t, (_w, o, retired) in _keeper.live.items() if retired and o is owner and not t.isFinished()]


def wait_retired(owner: object, timeout_ms: int) -> bool:
    """Wait for the threads ``owner`` retired; True if they all ended in time."""
    ok = all(t.wait(timeout_ms) for t in retiring(owner))
    if _keeper is not None:
        _keeper.reap()
    return ok
