"""Sentence windows: the short spans of a document that get vectors of their own.

A 200-token chunk vector blurs one sentence among a dozen; a question that
paraphrases that sentence matches it better alone. A collection with sentence
windows on also embeds every pair of consecutive sentences of each document
(stride one sentence), each filed under the chunk it starts in, and vector
search scores a chunk by the better of its own cosine and its best window's
(``store.search``). The chunk stays the unit that is ranked, cited and shown.

Sentences are cut from the whole document, not from each chunk: a chunk
starts mid-sentence where it overlaps the one before, and a window made of
that fragment would match less than the whole sentence does.

Measured on SciFact (``tests/benchmarks/sentence_windows_lab.py`` and the
README): two-sentence windows at stride one lift vector and hybrid search
where non-overlapping pairs, and windows pooled from the chunk's own token
states, gained much less.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Rows of a collection's window table are numbered chunk_id * WINDOW_SLOTS + i,
# so a chunk's windows can be found and deleted from its id.
WINDOW_SLOTS = 64
MAX_WINDOWS = WINDOW_SLOTS  # per chunk; the rest of a chunk of tiny "sentences" (a table) is left to its own vector
SENTENCES_PER_WINDOW = 2

# A sentence ends at . ! ? before the next one starts with a capital, a digit,
# a quote or a bracket; at a blank line; or at a line break after . ! ? or :.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9])|\s*\n\s*\n\s*|(?<=[.!?:])\s*\n\s*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, blanks around it left out."""
    spans, at = [], 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        start = at
        while start < end and text[start].isspace():
            start += 1
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if stop > start:
            spans.append((start, stop))
        at = match.end() if match else len(text)
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, blanks inside each collapsed."""
    return [" ".join(text[a:b].split()) for a, b in sentence_spans(text)]


def chunk_windows(text: str, chunks: Sequence[tuple[int, int]]) -> list[list[str]]:
    """The windows of a document filed under its chunks: one list per (start, end) chunk span.

    A window is a sentence and the one after it (the last sentence alone ends
    the list) and belongs to the first chunk its start falls in. A document
    of a single sentence has none: its window would be its chunk.
    """
    spans = sentence_spans(text)
    out: list[list[str]] = [[] for _ in chunks]
    if len(spans) < 2:
        return out
    owner = 0  # chunks come in document order: the first one a start falls in only moves forward
    for i, (start, _) in enumerate(spans):
        while owner < len(chunks) and chunks[owner][1] <= start:
            owner += 1
        if owner == len(chunks):
            break
        if chunks[owner][0] <= start and len(out[owner]) < MAX_WINDOWS:
            out[owner].append(" ".join(" ".join(text[a:b].split()) for a, b in spans[i : i + SENTENCES_PER_WINDOW]))
    return out


def per_chunk(vectors: Sequence, windows: Sequence[Sequence[str]]) -> list:
    """The vectors of every window, embedded in one flat run, cut back into one slice per chunk."""
    out, at = [], 0
    for of_chunk in windows:
        out.append(vectors[at : at + len(of_chunk)])
        at += len(of_chunk)
    return out
