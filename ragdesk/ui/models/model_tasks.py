"""The model manager's worker: lists, downloads, adds and deletes models on its own thread.

Everything that touches the registry runs here, one task after another, on a
registry (and database connection) the worker opens in its own thread, so the
dialog never waits on a GGUF header, a file copy or the network. A download is
cancelled by a ``threading.Event`` the core polls between chunks; the thread is
never terminated.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragdesk.ui.errors import describe
from ragdesk.ui.qt import Signal, Slot
from ragdesk.ui.workers.threads import TaskWorker, Throttle

log = logging.getLogger(__name__)

_ids = itertools.count(1)


@dataclass
class ModelTask:
    """One request for the worker; the dialog keeps it to cancel it and to match the replies."""

    kind: str  # "list" | "pull" | "add" | "remove"
    name: str = ""  # pull: a catalogue name or a repo_id; remove: a registry name
    filename: str | None = None  # pull: the file in the repository (None for a catalogue name)
    path: str = ""  # add: the GGUF file
    adapter: bool = False  # add: the file must be a LoRA adapter (else a model)
    base_model: str | None = None  # add: the model an adapter was made for
    cancel: threading.Event = field(default_factory=threading.Event)
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def label(self) -> str:
        """What the task is doing, for the status line."""
        if self.kind == "pull":
            if self.filename:
                return f"{self.name}/{self.filename}"
            from ragdesk.llm import catalogue

            known = catalogue.find(self.name)
            return known.title if known else self.name
        return Path(self.path).name if self.kind == "add" else self.name


class ModelTasksWorker(TaskWorker):
    """Lives on a QThread; ``run`` executes one :class:`ModelTask` and reports by signals."""

    listed = Signal(object)  # list[ModelEntry], after start and after every change
    progress = Signal(object, int, int)  # task, bytes done, bytes total (0 if unknown)
    succeeded = Signal(object, object)  # task, the ModelEntry added or downloaded (None for remove)
    failed = Signal(object, str)  # task (None when the registry can't be opened), sentence
    cancelled = Signal(object, str)  # task, sentence (what was kept)

    PROGRESS_INTERVAL_S = 0.1

    def __init__(self, registry_factory: Callable[[], object]) -> None:
        super().__init__()
        self._factory = registry_factory
        self.registry = None

    @Slot()
    def start(self) -> None:
        try:
            self.registry = self._factory()
        except Exception as exc:  # noqa: BLE001 - e.g. a locked database: said in the dialog
            log.exception("the model manager could not open the registry")
            self.failed.emit(None, describe(exc))
            return
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        if self.registry is None:
            return
        try:
            entries = self.registry.list()
        except Exception as exc:  # noqa: BLE001
            log.exception("cannot list models")
            self.failed.emit(None, describe(exc))
            return
        self.listed.emit(entries)

    @Slot(object)
    def run(self, task: ModelTask) -> None:
        if self.registry is None:
            self.failed.emit(task, "The model list is not available (the database could not be opened).")
            return
        if task.kind == "list":
            self.refresh()
            return
        from ragdesk.llm.download import DownloadCancelled

        self.current = task
        try:
            entry = self._perform(task)
        except DownloadCancelled as exc:
            self.cancelled.emit(task, describe(exc))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the dialog
            log.warning("model task %s %r failed", task.kind, task.label, exc_info=True)
            self.failed.emit(task, describe(exc))
        else:
            self.succeeded.emit(task, entry)
        finally:
            self.current = None
        self.refresh()  # also after a failure: a partial change (or none) is shown as it is

    def _perform(self, task: ModelTask):
        if task.kind == "pull":
            from ragdesk.llm.download import pull_model

            return pull_model(
                task.name, task.filename, registry=self.registry, cancel=task.cancel.is_set,
                progress=self._progress_reporter(task),
            )
        if task.kind == "add":
            return self.registry.add(
                task.path, kind="adapter" if task.adapter else "model", base_model=task.base_model
            )
        if task.kind == "remove":
            self.registry.remove(task.name)
            return None
        raise ValueError(f"unknown model task {task.kind!r}")

    def _progress_reporter(self, task: ModelTask) -> Callable[[int, int], None]:
        throttle = Throttle(self.PROGRESS_INTERVAL_S)

        def report(done: int, total: int) -> None:
            # A fast line reports every 64 KiB-1 MiB; the end always gets through.
            if throttle.ready(force=bool(total and done >= total)):
                self.progress.emit(task, done, total)

        return report

    def close(self) -> None:
        if self.registry is not None:
            self.registry.conn.close()
            self.registry = None
