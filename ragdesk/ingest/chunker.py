"""Token-aware chunking with exact character offsets.

Each section is tokenized once with the embedding model's fast tokenizer;
chunks are runs of at most ``chunk_tokens`` tokens whose character span comes
from the token offsets, so ``doc.text[chunk.start:chunk.end] == chunk.text``
and a citation points at the exact place. A chunk ends at the best break near
the end of its window (paragraph > sentence > line > word), the next one
starts about ``overlap_tokens`` earlier at a word start, and no chunk crosses
a section (so never a heading change or a PDF page).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ragdesk.ingest.document import Extracted, Section

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_SENTENCE_END = frozenset(".!?。！？")
_CLOSERS = frozenset("\"')]}”’»")
# Sections longer than this are tokenized in blocks; batches hold about this much text.
_BLOCK_CHARS = 100_000
_BATCH_CHARS = 1_000_000
# Break qualities, best last.
_NO_BREAK, _WORD, _LINE, _SENTENCE, _PARAGRAPH = range(5)


@dataclass(frozen=True)
class Chunk:
    """A span of a document: ``text == doc.text[start:end]``, ``n_tokens`` tokens.

    ``ocr_confidence`` is set (0..1) when the span was read by OCR.
    """

    start: int
    end: int
    page: int | None
    heading: str | None
    text: str
    n_tokens: int
    ocr_confidence: float | None = None


def load_tokenizer(model_dir: Path | str) -> Tokenizer:
    """The fast tokenizer in a sentence-transformers model folder (``tokenizer.json``).

    Loads only the ``tokenizers`` library: no torch, no transformers.
    """
    from tokenizers import Tokenizer

    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"no tokenizer.json in {model_dir}")
    return Tokenizer.from_file(str(path))


class Chunker:
    """Splits Extracted documents into overlapping, token-limited chunks."""

    def __init__(self, tokenizer: Tokenizer, chunk_tokens: int = 200, overlap_tokens: int = 40):
        from tokenizers import Tokenizer

        if chunk_tokens < 1:
            raise ValueError("chunk size must be at least 1 token")
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError("chunk overlap must be at least 0 and smaller than the chunk size")
        # A private copy: model tokenizer.json files usually switch on truncation
        # (128 tokens for MiniLM) and padding, which would cut sections short;
        # the caller's tokenizer is left as it was.
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def chunk(self, doc: Extracted) -> list[Chunk]:
        """The chunks of one document, in text order."""
        return self.chunk_many([doc])[0]

    def chunk_many(self, docs: Iterable[Extracted]) -> list[list[Chunk]]:
        """Chunks of several documents, tokenized in batch calls (faster than one by one)."""
        docs = list(docs)
        out: list[list[Chunk]] = [[] for _ in docs]
        batch: list[tuple[int, Section, str]] = []
        batch_chars = 0
        for d, doc in enumerate(docs):
            for section in doc.sections:
                for block in _blocks(doc.text, section):
                    batch.append((d, block, doc.text[block.start:block.end]))
                    batch_chars += block.end - block.start
                    if batch_chars >= _BATCH_CHARS:
                        self._run(batch, out)
                        batch, batch_chars = [], 0
        self._run(batch, out)
        for d, doc in enumerate(docs):
            if doc.ocr:
                out[d] = [replace(c, ocr_confidence=doc.ocr_confidence(c.start, c.end)) for c in out[d]]
        return out

    def _run(self, batch: list[tuple[int, Section, str]], out: list[list[Chunk]]) -> None:
        if not batch:
            return
        encodings = self._tokenizer.encode_batch([t for _, _, t in batch], add_special_tokens=False)
        for (d, section, text), encoding in zip(batch, encodings):
            self._split(text, section, encoding.offsets, out[d])

    def _split(self, text: str, section: Section, offsets: list, out: list[Chunk]) -> None:
        """Append the chunks of one section (``text`` is the section's own text)."""
        n = len(offsets)
        size = self.chunk_tokens
        base = section.start
        i = 0
        while i < n:
            k = n if n - i <= size else self._cut(text, offsets, i, i + size)
            start, end = offsets[i][0], offsets[k - 1][1]
            if end <= start:  # offsets out of order (unusual tokenizers): widen to the run
                start = min(o[0] for o in offsets[i:k])
                end = max(o[1] for o in offsets[i:k])
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                page, heading = section.page, section.heading
                out.append(Chunk(base + start, base + end, page, heading, text[start:end], k - i))
            if k >= n:
                break
            i = self._next_start(offsets, i, k)

    def _cut(self, text: str, offsets: list, i: int, limit: int) -> int:
        """Where to end the chunk starting at token ``i``: a token index in (i, limit].

        Looks back from the window's end over its second half for the best
        break, taking the latest one of the best quality found.
        """
        lowest = i + max(1, self.chunk_tokens // 2)
        best_k, best_quality = limit, _NO_BREAK
        for k in range(limit, lowest - 1, -1):
            gap_start, gap_end = offsets[k - 1][1], offsets[k][0]
            if gap_end <= gap_start:
                continue  # inside a word (word pieces, punctuation)
            quality = _break_quality(text, gap_start, gap_end)
            if quality == _PARAGRAPH:
                return k
            if quality > best_quality:
                best_k, best_quality = k, quality
        return best_k

    def _next_start(self, offsets: list, i: int, k: int) -> int:
        """First token of the next chunk: about ``overlap_tokens`` back, at a word start."""
        if self.overlap_tokens == 0:
            return k
        target = max(i + 1, k - self.overlap_tokens)
        for t in range(target, k):  # forward: never more overlap than asked
            if offsets[t][0] > offsets[t - 1][1]:
                return t
        for t in range(target - 1, i, -1):  # one long "word": accept a little more
            if offsets[t][0] > offsets[t - 1][1]:
                return t
        return k


def _blocks(text: str, section: Section) -> list[Section]:
    """Split a huge section into blocks at blank lines (else lines, else spaces).

    Token offsets cost about 100 bytes each in Python; a 50 MB log file in one
    piece would need gigabytes. Blocks are tokenized separately and chunks end
    at their borders, which are paragraph breaks wherever the text has them.
    """
    start, end = section.start, section.end
    if end - start <= _BLOCK_CHARS:
        return [section]
    blocks = []
    while end - start > _BLOCK_CHARS:
        limit = start + _BLOCK_CHARS
        floor = start + _BLOCK_CHARS // 2
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = text.rfind(sep, floor, limit)
            if cut >= 0:
                break
        cut = cut if cut > start else limit
        blocks.append(Section(start, cut, section.page, section.heading))
        start = cut
    blocks.append(Section(start, end, section.page, section.heading))
    return blocks


def _break_quality(text: str, gap_start: int, gap_end: int) -> int:
    """How good a place to end a chunk the whitespace ``text[gap_start:gap_end]`` is."""
    newlines = text.count("\n", gap_start, gap_end) or text.count("\r", gap_start, gap_end)
    if newlines >= 2:
        return _PARAGRAPH
    last = text[gap_start - 1]
    if last in _CLOSERS and gap_start >= 2:
        last = text[gap_start - 2]
    if last in _SENTENCE_END:
        return _SENTENCE
    return _LINE if newlines else _WORD
