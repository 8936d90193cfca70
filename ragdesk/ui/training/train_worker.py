"""The training dialog's worker: surveys models and runs, and trains LoRA adapters, on its own thread.

Everything slow happens here: reading the registry (built-in models' GGUF
headers), reading earlier runs' checkpoints, and the training job itself
(:func:`ragdesk.training.job.run_job`: torch, transformers and peft are only
imported on this thread). The worker opens its own database connection in its
thread. A run is cancelled by a ``threading.Event`` the trainer checks between
steps (it then saves a checkpoint); the thread is never terminated.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragdesk.ui.errors import describe, sentence
from ragdesk.ui.qt import Signal, Slot
from ragdesk.ui.workers.threads import TaskWorker, Throttle

log = logging.getLogger(__name__)

_ids = itertools.count(1)


@dataclass(frozen=True)
class RunInfo:
    """An earlier training run found under ``training_dir()/<name>/`` with a checkpoint."""

    name: str
    step: int
    total_steps: int
    collection: str | None = None
    method: str | None = None
    base: str | None = None
    model: str | None = None
    rank: int | None = None
    finished: bool = False  # its adapter is registered: nothing left to resume

    @property
    def resumable(self) -> bool:
        return not self.finished

    def describe(self) -> str:
        """``collection 'docs', continued, rank 8, on tiny`` (what the run was asked to do)."""
        parts = []
        if self.collection:
            parts.append(f"collection '{self.collection}'")
        if self.method:
            parts.append(self.method)
        if self.rank:
            parts.append(f"rank {self.rank}")
        if self.base:
            parts.append(f"on {self.base}")
        return ", ".join(parts)


@dataclass
class Survey:
    """What the dialog needs to offer choices: models, names in use and earlier runs."""

    models: list = field(default_factory=list)  # ModelEntry of kind "model"
    names: set = field(default_factory=set)  # every registered model and adapter name
    runs: dict = field(default_factory=dict)  # name -> RunInfo


@dataclass
class TrainTask:
    """One training run; the dialog keeps it to cancel it and to match the replies."""

    request: Any  # ragdesk.training.job.TrainRequest
    settings: Any  # a copy of the app's Settings (threads, default model)
    cancel: threading.Event = field(default_factory=threading.Event)
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def name(self) -> str:
        return self.request.name


def read_runs(registered: set[str]) -> dict[str, RunInfo]:
    """Earlier runs with a checkpoint; read-only (a half-swapped checkpoint is read where it is)."""
    from ragdesk import paths
    from ragdesk.training.job import RUN_FILE

    runs: dict[str, RunInfo] = {}
    root = paths.training_dir()
    if not root.is_dir():
        return runs
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        state = _first_json(run_dir / "checkpoint" / "state.json", run_dir / "checkpoint.old" / "state.json")
        run = _first_json(run_dir / RUN_FILE)
        if state is None or run is None:
            continue  # the bases cache, a run cancelled before its first checkpoint, or damaged files
        config = run.get("config") or {}
        base = run.get("base") or {}
        runs[run_dir.name] = RunInfo(
            name=run_dir.name, step=int(state.get("step", 0)), total_steps=int(state.get("total_steps", 0)),
            collection=run.get("collection"), method=run.get("method"), base=base.get("name"),
            model=run.get("model"), rank=config.get("rank"), finished=run_dir.name in registered,
        )
    return runs


def _first_json(*candidates: Path) -> dict | None:
    for path in candidates:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None


class TrainWorker(TaskWorker):
    """Lives on a QThread; ``survey`` lists choices, ``train`` runs one :class:`TrainTask`."""

    surveyed = Signal(object)  # Survey
    progress = Signal(object, object)  # task, ragdesk.training.trainer.Progress
    finished = Signal(object, object)  # task, JobResult (status "completed" or "cancelled")
    failed = Signal(object, str)  # task (None when the database can't be opened), sentence

    PROGRESS_INTERVAL_S = 0.1  # training steps are reported at most this often (phase changes always)

    def __init__(self, db_path, settings) -> None:
        super().__init__()
        self.db_path = db_path
        self.settings = settings
        self.store = None
        self.registry = None

    @Slot()
    def start(self) -> None:
        from ragdesk.llm.registry import ModelRegistry
        from ragdesk.store import KnowledgeStore

        try:
            self.store = KnowledgeStore(self.db_path, self.settings)
            self.registry = ModelRegistry(self.store.conn)
        except Exception as exc:  # noqa: BLE001 - a locked database is said in the dialog
            log.exception("the training dialog could not open the database")
            self.failed.emit(None, describe(exc))
            return
        self.survey()

    @Slot()
    def survey(self) -> None:
        if self.registry is None:
            return
        try:
            entries = self.registry.list()
            names = {e.name for e in entries}
            adapters = {e.name for e in entries if e.kind == "adapter"}
            survey = Survey([e for e in entries if e.kind == "model"], names, read_runs(adapters))
        except Exception as exc:  # noqa: BLE001
            log.exception("cannot list models and training runs")
            self.failed.emit(None, describe(exc))
            return
        self.surveyed.emit(survey)

    @Slot(object)
    def train(self, task: TrainTask) -> None:
        if self.store is None:
            self.failed.emit(task, "Training is not available (the database could not be opened).")
            return
        from ragdesk.training import TrainingError
        from ragdesk.training.job import run_job

        self.current = task
        throttle = Throttle(self.PROGRESS_INTERVAL_S)

        def report(p) -> None:
            # Steps are throttled; every other phase's report, and the last step, get through.
            if throttle.ready(p.phase, force=p.phase != "train" or p.step >= p.total_steps):
                self._report(task, p)

        try:
            result = run_job(task.request, progress=report, cancel=task.cancel, settings=task.settings,
                             store=self.store, registry=self.registry)
        except TrainingError as exc:  # bad input, a mismatch, a full disk: the core's sentence
            log.info("training %r refused: %s", task.name, exc)
            self.failed.emit(task, sentence(str(exc)))
        except Exception as exc:  # noqa: BLE001 - anything else is a sentence too, never a crash
            log.warning("training %r failed", task.name, exc_info=True)
            self.failed.emit(task, describe(exc))
        else:
            result.training.model = None  # the peft model stays here; the GUI needs only the numbers
            self.finished.emit(task, result)
        finally:
            self.current = None
        self.survey()  # a new adapter, or a run to resume

    def _report(self, task: TrainTask, p) -> None:
        """Send one progress report to the dialog (tests hook it to hold a run at a step)."""
        self.progress.emit(task, p)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = self.registry = None
