"""Fitting a prompt into the model's context window.

What gives way, in order: the oldest conversation turns, then the
lowest-ranked sources (one is always kept), then the tail of the last source
kept, cut at a word boundary so no token is split. The answer's reserve is
never spent on the prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ragdesk.chat.prompts import Turn, build_messages
from ragdesk.records import Hit


@dataclass
class Budgeted:
    messages: list[dict]
    history: list[Turn]
    sources: list[Hit] | None
    prompt_tokens: int
    dropped_turns: int
    dropped_sources: int
    truncated: bool


def _cut_to_tokens(text: str, limit: int, count: Callable[[str], int]) -> str:
    """The longest whitespace-bounded prefix of ``text`` with at most ``limit`` tokens."""
    if count(text) <= limit:
        return text
    cuts = [i for i, ch in enumerate(text) if ch.isspace()]
    lo, hi, best = 0, len(cuts) - 1, ""
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = text[: cuts[mid]].rstrip()
        if count(candidate) <= limit:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best


def fit(
    question: str,
    *,
    history: Sequence[Turn],
    sources: Sequence[Hit] | None,
    n_ctx: int,
    reserve: int,
    measure: Callable[[list[dict]], int],
    count: Callable[[str], int],
    specials: Sequence[str] = (),
    example: bool = False,
) -> Budgeted:
    """Trim history and sources until the rendered prompt leaves ``reserve`` tokens free.

    ``measure`` gives the token count of rendered messages; ``count`` of plain text.
    """
    budget = n_ctx - reserve
    history = list(history)
    kept = list(sources) if sources is not None else None
    dropped_turns = dropped_sources = 0
    truncated = False

    def build() -> tuple[list[dict], int]:
        msgs = build_messages(question, history=history, sources=kept, specials=specials, example=example)
        return msgs, measure(msgs)

    messages, used = build()
    while used > budget and history:
        history.pop(0)
        dropped_turns += 1
        messages, used = build()
    while used > budget and kept and len(kept) > 1:
        kept.pop()
        dropped_sources += 1
        messages, used = build()
    if used > budget and kept:
        last = kept[-1]
        allowed = max(0, count(last.text) - (used - budget))
        kept[-1] = replace(last, text=_cut_to_tokens(last.text, allowed, count))
        truncated = True
        messages, used = build()
        if used > budget:
            kept = []
            dropped_sources += 1
            messages, used = build()
    if used > budget:
        raise ValueError(
            f"the question alone needs {used} tokens but the context holds {n_ctx} "
            f"with {reserve} kept for the answer; shorten it or raise the context length"
        )
    return Budgeted(messages, history, kept, used, dropped_turns, dropped_sources, truncated)
