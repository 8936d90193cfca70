"""Comparisons and evaluation runs on the model worker's thread.

:class:`ComparisonWork` is the base class of
:class:`ragdesk.ui.chat.engine_worker.ModelWorker`: it adds the slots that answer
one question in several modes (``ragdesk.compare.compare``) and run a QA file
through the modes (``ragdesk.evaluation.runner.run_eval``), on the one Engine
the worker owns, so a comparison never puts a second model in memory. The GUI
sends requests by queued signals and stops them with the request's cancel flag.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ragdesk.ui.errors import describe
from ragdesk.ui.qt import Signal, Slot
from ragdesk.ui.workers.threads import StoreWorker, TokenSink

log = logging.getLogger(__name__)


@dataclass
class CompareRequest:
    """One question for several modes."""

    id: int
    question: str
    modes: list[str]
    collection: str | None
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class EvalRequest:
    """A QA file for the modes; the report goes into a new folder under ``report_root``."""

    id: int
    qa_path: str
    modes: list[str]
    collection: str | None
    report_root: Path
    limit: int | None = None
    max_tokens: int = 128
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class EvalOutcome:
    """What an evaluation run left: the run, its report (None if nothing was answered), whether cut short."""

    run: object  # ragdesk.evaluation.runner.EvalRun
    report: Path | None
    answered: int
    total: int

    @property
    def cancelled(self) -> bool:
        return bool(getattr(self.run, "cancelled", False))


def new_report_dir(root: Path) -> Path:
    """A fresh ``root/<timestamp>`` folder (``-2``, ``-3``… if runs end in the same second)."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise OSError(f"cannot create a report folder in {root}")


class ComparisonWork(StoreWorker):
    """Compare and evaluate slots; the subclass provides ``self.session`` (a ChatSession)."""

    compareStarted = Signal(int, str)  # request id, mode now generating
    compareTokens = Signal(int, str, str)  # request id, mode, coalesced pieces
    compareAnswer = Signal(int, str, object)  # request id, mode, Answer
    compareFinished = Signal(int, object)  # request id, Comparison
    compareFailed = Signal(int, str)  # request id, sentence ("" when cancelled before it began)
    evalProgress = Signal(int, int, int, str)  # request id, answers done, answers in all, mode ("report" at the end)
    evalFinished = Signal(int, object)  # request id, EvalOutcome
    evalFailed = Signal(int, str)  # request id, sentence ("" when cancelled before it began)

    session = None
    TOKEN_INTERVAL_S = 0.03

    # -- one question, several modes ---------------------------------------

    def _compare_piece(self, request: CompareRequest, mode: str, sink, piece: str) -> None:
        """Called for every generated piece (tests hook it to hold a stream open)."""
        sink.add(piece)

    @Slot(object)
    def compare(self, request: CompareRequest) -> None:
        if self.session is None:
            self.compareFailed.emit(request.id, "The chat engine is not running.")
            return
        if request.cancel.is_set():
            self.compareFailed.emit(request.id, "")
            return
        from ragdesk.compare import compare

        sinks: dict[str, TokenSink] = {}

        def start(mode: str) -> None:
            sinks[mode] = TokenSink(lambda text: self.compareTokens.emit(request.id, mode, text),
                                     self.TOKEN_INTERVAL_S)
            self.compareStarted.emit(request.id, mode)

        def answered(mode: str, answer) -> None:
            sinks[mode].flush()
            self.compareAnswer.emit(request.id, mode, answer)

        try:
            result = compare(
                self.session, request.question, request.modes, collection=request.collection,
                on_start=start, on_token=lambda mode, piece: self._compare_piece(request, mode, sinks[mode], piece),
                on_answer=answered, cancel=request.cancel.is_set, skip_unavailable=True,
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence
            log.warning("comparing failed", exc_info=True)
            self.compareFailed.emit(request.id, describe(exc))
            return
        self.compareFinished.emit(request.id, result)

    # -- a QA file through the modes ---------------------------------------

    def _eval_answered(self, request: EvalRequest, done: int, total: int, mode: str) -> None:
        """Called after every answer of a run (tests hook it to hold a run open)."""
        self.evalProgress.emit(request.id, done, total, mode)

    @Slot(object)
    def evaluate(self, request: EvalRequest) -> None:
        if self.session is None:
            self.evalFailed.emit(request.id, "The chat engine is not running.")
            return
        if request.cancel.is_set():
            self.evalFailed.emit(request.id, "")
            return
        from ragdesk.evaluation.qa import load_qa
        from ragdesk.evaluation.report import write_report
        from ragdesk.evaluation.runner import eval_modes, run_eval

        try:
            items = load_qa(request.qa_path, limit=request.limit)
            total = len(items) * len(eval_modes(request.modes))
            self.evalProgress.emit(request.id, 0, total, "")
            run = run_eval(
                self.session, items, request.modes, collection=request.collection, max_tokens=request.max_tokens,
                progress=lambda done, total_, mode: self._eval_answered(request, done, total_, mode),
                cancel=request.cancel.is_set,
            )
            answered = sum(len(records) for records in run.records.values())
            report = None
            if answered:  # a cancelled run still gets a report of what was answered, as in the CLI
                self.evalProgress.emit(request.id, answered, total, "report")
                report = write_report(run, new_report_dir(request.report_root))
        except Exception as exc:  # noqa: BLE001 - a bad QA file, a mode that can't run, a full disk
            log.warning("evaluation failed", exc_info=True)
            self.evalFailed.emit(request.id, describe(exc))
            return
        self.evalFinished.emit(request.id, EvalOutcome(run, report, answered, total))
