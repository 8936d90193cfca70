"""The GUI-thread side of comparisons and evaluation runs.

:class:`CompareController` belongs to the :class:`~ragdesk.ui.controller.AppController`
(``controller.comparisons``). It sends requests to the model worker (which owns
the one Engine), relays the worker's replies for the current request only, and
keeps the one rule the views rely on: at most one thing uses the model at a
time — a chat answer, a comparison or an evaluation run.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from ragdesk import paths
from ragdesk.ui.compare.compare_worker import CompareRequest, EvalRequest
from ragdesk.ui.qt import QObject, Signal

REPORTS_DIR = "reports"


def reports_root() -> Path:
    """Where evaluation reports go: ``<data folder>/reports/<timestamp>/``."""
    return paths.home() / REPORTS_DIR


class CompareController(QObject):
    """Starts, relays and cancels comparisons and evaluation runs."""

    runningChanged = Signal(bool)
    compareStarted = Signal(int, str)  # request id, mode now generating
    compareTokens = Signal(int, str, str)  # request id, mode, text
    compareAnswer = Signal(int, str, object)  # request id, mode, Answer
    compareFinished = Signal(int, object)  # request id, Comparison
    compareFailed = Signal(int, str)  # request id, sentence ("" when cancelled before it began)
    evalProgress = Signal(int, int, int, str)  # request id, done, total, mode
    evalFinished = Signal(int, object)  # request id, EvalOutcome
    evalFailed = Signal(int, str)  # request id, sentence ("" when cancelled before it began)

    _compare = Signal(object)
    _evaluate = Signal(object)

    def __init__(self, app) -> None:
        super().__init__(app)
        self.app = app
        self.task: CompareRequest | EvalRequest | None = None
        self._ids = itertools.count(1)
        worker = app.model_worker
        self._compare.connect(worker.compare)
        self._evaluate.connect(worker.evaluate)
        # Bound methods, not lambdas: a lambda would run on the worker's thread, these run on the GUI's.
        worker.compareStarted.connect(self._on_compare_started)
        worker.compareTokens.connect(self._on_compare_tokens)
        worker.compareAnswer.connect(self._on_compare_answer)
        worker.compareFinished.connect(self._on_compare_finished)
        worker.compareFailed.connect(self._on_compare_failed)
        worker.evalProgress.connect(self._on_eval_progress)
        worker.evalFinished.connect(self._on_eval_finished)
        worker.evalFailed.connect(self._on_eval_failed)

    # -- state -------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a comparison or an evaluation run is using the model."""
        return self.task is not None

    def blocked_reason(self) -> str | None:
        """Why nothing can start now (no model, the model busy), or None."""
        app = self.app
        if app.model_state == "loading":
            return "the model is still loading"
        if app.model_state != "ready":
            return "load a language model first (Models in the bar above)"
        if app.busy:
            return "an answer is being written in the chat: stop it first"
        if self.running:
            return "a comparison or evaluation is already running"
        return None

    def runnable(self, modes) -> list[str]:
        """The ``modes`` that can run with the current model, collection and adapter."""
        return [m for m in modes if self.app.unavailable_reason(m) is None]

    # -- commands ----------------------------------------------------------

    def compare(self, question: str, modes) -> CompareRequest | None:
        """Answer ``question`` in each runnable mode of ``modes``; None if that can't start now."""
        question = question.strip()
        modes = self.runnable(modes)
        if not question or not modes or self.blocked_reason():
            return None
        request = CompareRequest(next(self._ids), question, modes, self.app.collection)
        self._begin(request)
        self._compare.emit(request)
        return request

    def evaluate(self, qa_path, modes, *, limit: int | None = None, max_tokens: int = 128) -> EvalRequest | None:
        """Run the QA file through the runnable ``modes`` (and the closed-book baseline)."""
        modes = self.runnable(modes)
        if not qa_path or self.blocked_reason():
            return None
        request = EvalRequest(next(self._ids), str(qa_path), modes, self.app.collection, reports_root(),
                              limit=limit or None, max_tokens=max_tokens)
        self._begin(request)
        self._evaluate.emit(request)
        return request

    def cancel(self) -> bool:
        """Stop the comparison or run (answers so far are kept)."""
        if self.task is None:
            return False
        self.task.cancel.set()
        return True

    # -- replies -----------------------------------------------------------

    def _begin(self, request) -> None:
        self.task = request
        self.runningChanged.emit(True)

    def _on_compare_started(self, request_id: int, mode: str) -> None:
        self._relay(self.compareStarted, request_id, mode)

    def _on_compare_tokens(self, request_id: int, mode: str, text: str) -> None:
        self._relay(self.compareTokens, request_id, mode, text)

    def _on_compare_answer(self, request_id: int, mode: str, answer) -> None:
        self._relay(self.compareAnswer, request_id, mode, answer)

    def _on_compare_finished(self, request_id: int, result) -> None:
        self._end(self.compareFinished, request_id, result)

    def _on_compare_failed(self, request_id: int, message: str) -> None:
        self._end(self.compareFailed, request_id, message, "Could not compare")

    def _on_eval_progress(self, request_id: int, done: int, total: int, mode: str) -> None:
        self._relay(self.evalProgress, request_id, done, total, mode)

    def _on_eval_finished(self, request_id: int, outcome) -> None:
        self._end(self.evalFinished, request_id, outcome)

    def _on_eval_failed(self, request_id: int, message: str) -> None:
        self._end(self.evalFailed, request_id, message, "Evaluation failed")

    def _relay(self, signal, request_id: int, *args) -> None:
        if self.task is not None and self.task.id == request_id:
            signal.emit(request_id, *args)

    def _end(self, signal, request_id: int, payload, failure_title: str | None = None) -> None:
        if self.task is None or self.task.id != request_id:
            return
        self.task = None
        self.runningChanged.emit(False)
        signal.emit(request_id, payload)
        if failure_title and payload:
            self.app.errorOccurred.emit(failure_title, payload)
