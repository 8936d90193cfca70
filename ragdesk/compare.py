"""One question answered by several knowledge modes, side by side.

The modes run one after another on the session's single Engine (one model in
memory; switching mode only applies or removes the adapter), with the same
model, collection and adapter, so the answers differ only by what each mode
knows. Callbacks let a GUI stream each mode into its own column::

    compare(session, "What is X?", ["rag", "lora", "hybrid"],
            on_start=lambda mode: ..., on_token=lambda mode, piece: ...,
            on_answer=lambda mode, answer: ..., cancel=stop_event.is_set)

Call it on the thread that owns the Engine (the model worker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragdesk.chat.modes import BASELINE, MODE_ORDER, ModeError, get_mode

DEFAULT_MODES = tuple(m for m in MODE_ORDER if m != BASELINE)  # every mode but the baseline


@dataclass
class Comparison:
    """The answers of each mode (``ragdesk.chat.Answer``) and the modes that did not run."""

    question: str
    modes: list[str]
    answers: dict = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False

    def to_json(self) -> dict:
        """The stable ``compare --json`` structure."""
        return {
            "question": self.question,
            "modes": {mode: mode_summary(answer) for mode, answer in self.answers.items()},
            "skipped": self.skipped,
            "cancelled": self.cancelled,
        }


def latency_ms(answer) -> float:
    """Retrieval plus generation time of an answer."""
    return float(answer.stats.get("retrieval_ms", 0.0)) + float(answer.stats.get("total_ms", 0.0))


def mode_summary(answer) -> dict:
    """An answer's JSON plus the figures a comparison shows (latency, tokens/s, citation count)."""
    return {
        **answer.to_json(),
        "latency_ms": round(latency_ms(answer), 2),
        "tokens_per_s": round(float(answer.stats.get("tokens_per_s", 0.0)), 2),
        "citations": len(answer.cited),
    }


def plan_modes(session, modes: Sequence[str], *, skip_unavailable: bool = False) -> tuple[list[str], dict[str, str]]:
    """The modes that can run and, for the others, why not.

    Unknown mode names raise ``ModeError``; so does an unavailable mode unless
    ``skip_unavailable``, in which case it is listed with its reason instead.
    """
    runnable: list[str] = []
    skipped: dict[str, str] = {}
    for mode in dict.fromkeys(modes):
        get_mode(mode)
        reason = session.unavailable_reason(mode)
        if reason is None:
            runnable.append(mode)
        elif skip_unavailable:
            skipped[mode] = reason
        else:
            raise ModeError(f"mode {mode} cannot run: {reason}")
    return runnable, skipped


def compare(
    session,
    question: str,
    modes: Sequence[str] = DEFAULT_MODES,
    *,
    collection: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = 0.0,
    k: int | None = None,
    on_start: Callable[[str], None] | None = None,
    on_token: Callable[[str, str], None] | None = None,
    on_answer: Callable[[str, object], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    skip_unavailable: bool = False,
    persist: bool = False,
) -> Comparison:
    """Answer ``question`` in each of ``modes`` in turn.

    Greedy by default (``temperature=0``), so the modes differ only by what
    they know. ``cancel()`` stops the current answer (kept as far as it got)
    and the modes after it. Answers are not saved as conversations unless
    ``persist``.
    """
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    chosen = session.collection
    if collection is not None:
        session.collection = collection  # what unavailable_reason and ask look at
    try:
        return _run(session, question, modes, max_tokens, temperature, k, on_start, on_token, on_answer, cancel,
                    skip_unavailable, persist)
    finally:
        session.collection = chosen


def _run(session, question, modes, max_tokens, temperature, k, on_start, on_token, on_answer, cancel,
         skip_unavailable, persist) -> Comparison:
    runnable, skipped = plan_modes(session, modes, skip_unavailable=skip_unavailable)
    result = Comparison(question, runnable, skipped=skipped)
    for mode in runnable:
        if cancel is not None and cancel():
            result.cancelled = True
            break
        if on_start:
            on_start(mode)
        stream = (lambda piece, _mode=mode: on_token(_mode, piece)) if on_token else None
        answer = session.ask(question, mode=mode, on_token=stream, cancel=cancel, max_tokens=max_tokens,
                             temperature=temperature, k=k, persist=persist)
        result.answers[mode] = answer
        if on_answer:
            on_answer(mode, answer)
        if answer.stats.get("stop_reason") == "cancelled":
            result.cancelled = True
            break
    return result
