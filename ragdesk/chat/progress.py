"""Stages of one answer, reported while it is being prepared.

Before the first token there is real work a user should see instead of a bare
"Writing…": loading a model, searching the library, reading the sources into
the model. ``ChatSession.ask(on_progress=...)`` reports each stage as a small
``Stage`` record; the app's answer card and ``ragdesk ask -v`` show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Stage names, in the order they happen (each may be skipped).
LOADING = "loading"  # the language model was not loaded yet
SEARCHING = "searching"
READING = "reading"  # the prompt (sources, question) is being evaluated
WRITING = "writing"  # the first token came: the answer streams


@dataclass(frozen=True)
class Stage:
    """One step of an answer: ``name`` (a constant above), a sentence, seconds since the question came."""

    name: str
    detail: str
    elapsed: float

    def line(self) -> str:
        """The stage as one short line, e.g. ``Searching… (0.2 s)``."""
        return f"{self.detail} ({self.elapsed:.1f} s)"


def reading_detail(n_sources: int | None, source_tokens: int, prompt_tokens: int) -> str:
    """'Reading 5 sources, 1,050 tokens…' (or the whole prompt's size without sources)."""
    if n_sources:
        noun = "source" if n_sources == 1 else "sources"
        return f"Reading {n_sources} {noun}, {source_tokens:,} tokens…"
    return f"Reading the question, {prompt_tokens:,} tokens…"


class ProgressClock:
    """Stamps stages with the time since it was made; a no-op without a callback."""

    def __init__(self, callback: Callable[[Stage], None] | None) -> None:
        self.callback = callback
        self.t0 = time.perf_counter()

    def __call__(self, name: str, detail: str) -> None:
        if self.callback is not None:
            self.callback(Stage(name, detail, time.perf_counter() - self.t0))
