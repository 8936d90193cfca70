"""Running the knowledge modes over a QA file and scoring their answers.

``run_eval`` drives a :class:`~ragdesk.chat.ChatSession` (one Engine, one
model in memory) through every question in every mode, mode after mode so the
adapter is switched as few times as possible and the KV cache keeps the shared
prompt prefix. It is safe to call from a GUI worker thread: ``progress(done,
total, mode)`` reports after each answer, ``cancel()`` is checked between
questions and while generating, and ``on_answer(record)`` streams results.

Choices (documented in the README):
- answers are greedy (temperature 0) and short (``max_tokens``, default 128);
  they are not saved as conversations;
- a labelled question gets an instruction appended, e.g. "Answer yes, no or
  maybe first, then explain briefly.", so small models commit to a label;
  retrieval still searches with the bare question;
- the closed-book baseline (base model, no adapter, no retrieval) always runs first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragdesk.chat.modes import BASELINE, ModeError, get_mode
from ragdesk.errors import RagdeskError
from ragdesk.evaluation.qa import (
    YES_NO_MAYBE,
    AnswerRecord,
    QAItem,
    disagreements,
    label_vocabulary,
    score_mode,
    verdicts,
)
from ragdesk.records import doc_id_for

DEFAULT_MAX_TOKENS = 128


class EvalError(RagdeskError, ValueError):
    """An evaluation that cannot run as asked (its message says what to change)."""


class MissingAdapterError(EvalError):
    def __init__(self, mode: str) -> None:
        self.mode = mode
        super().__init__(f"mode {mode} needs a LoRA adapter: choose one with --lora NAME")


def label_instruction(labels: Sequence[str]) -> str:
    """What is appended to a labelled question so the answer starts with its label."""
    if tuple(labels) == YES_NO_MAYBE:
        return "Answer yes, no or maybe first, then explain briefly."
    return f"Answer with one of {', '.join(labels)} first, then explain briefly."


def eval_modes(modes: Sequence[str]) -> list[str]:
    """The modes to run: the closed-book baseline first, then ``modes`` without repeats."""
    out = [BASELINE]
    for mode in modes:
        get_mode(mode)  # ModeError for an unknown name
        if mode not in out:
            out.append(mode)
    return out


@dataclass
class EvalRun:
    """The answers of every mode to every question, and their metrics."""

    items: list[QAItem]
    modes: list[str]
    records: dict[str, list[AnswerRecord]]
    labels: tuple[str, ...]
    k: int
    max_tokens: int
    model: str | None = None
    adapter: str | None = None
    collection: str | None = None
    cancelled: bool = False
    seconds: float = 0.0
    _metrics: dict | None = field(default=None, repr=False)

    @property
    def metrics(self) -> dict[str, dict]:
        """``{mode: {metric: value, metric_ci: [lo, hi] | None, n: ..}}``."""
        if self._metrics is None:
            self._metrics = {
                m: score_mode(self.items, self.records.get(m, []), labels=self.labels, k=self.k) for m in self.modes
            }
        return self._metrics

    def disagreements(self) -> list[int]:
        return disagreements(self.items, self.records, self.labels)

    def to_json(self) -> dict:
        """The stable ``--json`` structure: ``{modes, n, questions, ...}``."""
        per_question: list[dict] = [
            {"index": i, "id": it.id, "question": it.question, "answer": it.answer, "label": it.label,
             "gold_doc": it.gold_doc, "answers": {}}
            for i, it in enumerate(self.items)
        ]
        for mode in self.modes:
            for record in self.records.get(mode, []):
                row = record.to_json()
                row.update(verdicts(self.items[record.index], record, self.labels, self.k))
                per_question[record.index]["answers"][mode] = row
        return {
            "n": len(self.items),
            "modes": self.metrics,
            "questions": per_question,
            "disagreements": self.disagreements(),
            "labels": list(self.labels),
            "k": self.k,
            "max_tokens": self.max_tokens,
            "model": self.model,
            "adapter": self.adapter,
            "collection": self.collection,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 2),
        }

    @classmethod
    def from_json(cls, data: dict) -> EvalRun:
        """Rebuild a run from :meth:`to_json` output (to re-score or re-render it)."""
        items = [QAItem(q["question"], q.get("answer"), q.get("label"), q.get("gold_doc"), q.get("id"))
                 for q in data["questions"]]
        modes = list(data["modes"])
        fields_ = set(AnswerRecord.__dataclass_fields__)
        records: dict[str, list[AnswerRecord]] = {m: [] for m in modes}
        for q in data["questions"]:
            for mode, row in q["answers"].items():
                records.setdefault(mode, []).append(AnswerRecord(**{k: v for k, v in row.items() if k in fields_}))
        return cls(items, modes, records, tuple(data["labels"]), data["k"], data["max_tokens"], data.get("model"),
                   data.get("adapter"), data.get("collection"), data.get("cancelled", False), data.get("seconds", 0))


def check_modes(session, modes: Sequence[str], collection: str | None) -> None:
    """Refuse, before anything runs, modes that cannot run with the session's choices."""
    name = collection or session.collection or session.settings.default_collection
    for mode in modes:
        spec = get_mode(mode)
        if spec.retrieval and not (spec.adapter and session.adapter_path is None):
            session.store.collection(name)  # a missing collection: CollectionError with the store's wording
        reason = session.unavailable_reason(mode, collection=name)
        if reason and spec.adapter and session.adapter_path is None:
            raise MissingAdapterError(mode)  # says which option gives one
        if reason:
            raise EvalError(f"mode {mode} cannot run: {reason}")


def run_eval(
    session,
    items: Sequence[QAItem],
    modes: Sequence[str] = ("rag",),
    *,
    collection: str | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    k: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_answer: Callable[[AnswerRecord], None] | None = None,
) -> EvalRun:
    """Answer every question in the closed-book baseline and each of ``modes``; score them.

    Raises ``EvalError`` (or ``ModeError``/``CollectionError``) before any answer
    if a mode cannot run. A cancelled run returns what was answered so far with
    ``cancelled=True``; its metrics cover the answered questions only.
    """
    items = list(items)
    if not items:
        raise EvalError("there are no questions to evaluate")
    run_modes = eval_modes(modes)
    check_modes(session, run_modes, collection)
    if not session.engine.loaded:
        session.load_model()
    labels = label_vocabulary([it.label for it in items if it.label])
    suffix = label_instruction(labels) if any(it.label for it in items) else ""
    k = k or session.settings.top_k
    collection = collection or session.collection or session.settings.default_collection
    run = EvalRun(items, run_modes, {m: [] for m in run_modes}, labels, k, max_tokens, session.model_name,
                  session.adapter_name if any(get_mode(m).adapter for m in run_modes) else None,
                  collection if any(get_mode(m).retrieval for m in run_modes) else None)
    total, done = len(items) * len(run_modes), 0
    t0 = time.perf_counter()
    try:
        for mode in run_modes:
            for index, item in enumerate(items):
                if cancel is not None and cancel():
                    run.cancelled = True
                    break
                question = f"{item.question} {suffix}" if item.label else item.question
                answer = session.ask(question, mode=mode, collection=collection, cancel=cancel,
                                     max_tokens=max_tokens, temperature=0.0, k=k, persist=False,
                                     retrieval_query=item.question)
                if answer.stats.get("stop_reason") == "cancelled":
                    run.cancelled = True  # a cut-off answer would skew every metric: drop it
                    break
                record = _record(index, mode, answer)
                run.records[mode].append(record)
                done += 1
                if on_answer:
                    on_answer(record)
                if progress:
                    progress(done, total, mode)
            if run.cancelled:
                break
    finally:
        run.seconds = time.perf_counter() - t0
    return run


def _record(index: int, mode: str, answer) -> AnswerRecord:
    spec = get_mode(mode)
    stats = answer.stats
    return AnswerRecord(
        index=index,
        mode=mode,
        text=answer.text,
        retrieved_docs=[doc_id_for(h.path) for h in answer.retrieved] if spec.retrieval else None,
        cited_docs=[doc_id_for(h.path) for _, h in answer.cited] if spec.retrieval else None,
        latency_ms=round(float(stats.get("retrieval_ms", 0.0)) + float(stats.get("total_ms", 0.0)), 3),
        completion_tokens=int(stats.get("completion_tokens", 0)),
        tokens_per_s=round(float(stats.get("tokens_per_s", 0.0)), 3),
        stop_reason=str(stats.get("stop_reason", "")),
    )


__all__ = [
    "BASELINE", "DEFAULT_MAX_TOKENS", "EvalError", "EvalRun", "MissingAdapterError", "ModeError",
    "check_modes", "eval_modes", "label_instruction", "run_eval",
]
