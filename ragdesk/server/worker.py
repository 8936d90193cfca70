"""The one thread that owns the model: a bounded first-come, first-served queue of jobs.

HTTP handlers run on the event loop; everything that touches the engine, the
embedding model or the database runs here, one job at a time, in arrival
order. A job reports back to its handler through an asyncio queue (pieces of
text, then a result or an error); its ``cancel`` flag is checked by the engine
between tokens and during prompt evaluation, so a client that leaves frees the
model within a token's time. A job cancelled while it waits is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

B = TypeVar("B")  # what the thread owns (ragdesk.server.backend.Backend)


class QueueFullError(Exception):
    """Too many requests are waiting for the model."""


class JobCancelled(Exception):
    """The job was cancelled (its client left) before it finished."""


class Job:
    """One request's work, run on the worker thread; events flow back to the event loop."""

    def __init__(self, fn: Callable[[Any, Job], Any], loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.loop = loop
        self.events: asyncio.Queue = asyncio.Queue()
        self._cancel = threading.Event()
        self.submitted_at = time.monotonic()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.cancelled_at: float | None = None

    # called on the worker thread
    def emit(self, kind: str, value: Any = None) -> None:
        """Send ("started" | "piece" | "done" | "error", value) to the handler."""
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone (server shutting down): nobody is listening
            pass

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    # called on the event loop
    def cancel(self) -> None:
        if not self._cancel.is_set():
            self.cancelled_at = time.monotonic()
            self._cancel.set()

    async def next_event(self) -> tuple[str, Any]:
        return await self.events.get()


class EngineWorker(Generic[B]):
    """Runs jobs one at a time on a thread that first builds what it owns with ``setup()``."""

    def __init__(self, setup: Callable[[], B], *, max_queue: int = 32, name: str = "ragdesk-serve-engine") -> None:
        self.setup = setup
        self.max_queue = max(1, int(max_queue))
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=self.max_queue)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._setup_error: BaseException | None = None
        self.owned: B | None = None
        self.current: Job | None = None
        self.done = 0
        self.cancelled = 0
        self.cancel_latencies: list[float] = []  # seconds from a running job's cancel to the model being free

    def start(self, timeout: float | None = None) -> B:
        """Start the thread and wait for ``setup()``; its exception is raised here."""
        self._thread.start()
        self._ready.wait(timeout)
        if self._setup_error is not None:
            raise self._setup_error
        assert self.owned is not None
        return self.owned

    @property
    def waiting(self) -> int:
        return self._jobs.qsize()

    def submit(self, fn: Callable[[B, Job], Any], loop: asyncio.AbstractEventLoop) -> Job:
        """Queue ``fn(owned, job)``; QueueFullError when ``max_queue`` jobs already wait."""
        job = Job(fn, loop)
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise QueueFullError(f"{self.max_queue} requests are already waiting for the model") from None
        return job

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what runs and waits, then end the thread (it closes what it owns)."""
        if self.current is not None:
            self.current.cancel()
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
                job.emit("error", JobCancelled("the server is stopping"))
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self.owned = self.setup()
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._setup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while (job := self._jobs.get()) is not None:
                self._run_job(job)
        finally:
            close = getattr(self.owned, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - shutting down anyway
                    log.exception("closing the server's engine failed")

    def _run_job(self, job: Job) -> None:
        if job.is_cancelled():
            self.cancelled += 1
            job.emit("error", JobCancelled("the client left before its turn"))
            return
        self.current = job
        job.started_at = time.monotonic()
        try:
            outcome = ("done", job.fn(self.owned, job))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to its request
            outcome = ("error", exc)
        job.finished_at = time.monotonic()
        self.current = None
        if job.is_cancelled():  # counted before the handler hears, so it never sees stale numbers
            self.cancelled += 1
            if job.cancelled_at is not None and job.cancelled_at >= job.started_at:
                self.cancel_latencies.append(job.finished_at - job.cancelled_at)
        else:
            self.done += 1
        job.emit(*outcome)
