"""Where a cited passage sits on its PDF page: the page as an image and rectangles to highlight.

The chunk's text came from pypdf (or from OCR), the page's positioned
characters come from PDFium, and the two spell whitespace, ligatures and
hyphenation differently; so words are compared, not characters. The page's
words are aligned with the passage's by ``difflib`` and the boxes of the
matched words, merged line by line, are the highlight. A page without a text
layer is read again by OCR (the same engine and settings as at indexing, so
the same words) to get the boxes of its lines. No Qt here: the GUI draws.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragdesk.ingest import pdf_pages

if TYPE_CHECKING:
    from PIL import Image

VIEW_DPI = 110  # a readable page in a side panel; the viewer scales it to fit
_WORD = re.compile(r"\w+", re.UNICODE)
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels, top-left origin


@dataclass
class PageView:
    """Page ``page`` (1-based) of ``pages``, rendered, with the passage's rectangles on it."""

    page: int
    pages: int
    image: Image.Image
    boxes: list[Box] = field(default_factory=list)
    by_ocr: bool = False  # the boxes come from reading the page image again


@dataclass(frozen=True)
class _Word:
    norm: str
    box: Box


def render_cited_page(path: str | Path, page: int, passage: str | None, dpi: float = VIEW_DPI) -> PageView:
    """Render ``page`` of the PDF at ``path`` with the boxes where ``passage`` is (none if not found)."""
    scale = dpi / 72.0
    with pdf_pages.opened(str(path)) as pdf:
        pages = pdf_pages.page_count(pdf)
        index = min(max(page, 1), pages) - 1
        image = pdf_pages.render(pdf, index, dpi)
        if not passage:
            return PageView(index + 1, pages, image)
        chars = pdf_pages.page_chars(pdf, index)
        text_layer = "".join(c.char for c in chars)
        by_ocr = False
        if not _has_text_layer(text_layer):
            words = _ocr_words(pdf, index, scale)
            by_ocr = True
        else:
            words = [_Word(w.norm, tuple(v * scale for v in w.box)) for w in _layer_words(chars)]
    return PageView(index + 1, pages, image, passage_boxes(words, passage), by_ocr)


def passage_boxes(words: list[_Word], passage: str) -> list[Box]:
    """Rectangles (one per line) covering the page words that spell ``passage``."""
    wanted = [w.lower() for w in _WORD.findall(passage)]
    if not wanted or not words:
        return []
    matcher = difflib.SequenceMatcher(None, [w.norm for w in words], wanted, autojunk=False)
    least = 1 if len(wanted) < 4 else 2  # single shared words between unrelated text are noise
    hits = [i for a, _, size in matcher.get_matching_blocks() if size >= least for i in range(a, a + size)]
    if not hits:
        return []
    # The passage is one contiguous run of the page: fill the gaps between matched words
    # (a hyphenated or ligatured word the two extractions spell apart), drop far outliers.
    hits = _main_run(hits, len(wanted))
    return _merge_lines([words[i].box for i in range(hits[0], hits[-1] + 1)])


def _main_run(hits: list[int], length: int) -> list[int]:
    """The densest run of matched word positions no longer than about the passage."""
    best, best_count = (hits[0], hits[0]), 0
    j = 0
    for i in range(len(hits)):
        while hits[i] - hits[j] > length * 1.3 + 5:
            j += 1
        if i - j + 1 > best_count:
            best, best_count = (hits[j], hits[i]), i - j + 1
    return [h for h in hits if best[0] <= h <= best[1]]


def _merge_lines(boxes: list[Box]) -> list[Box]:
    lines: list[list[float]] = []
    for x0, y0, x1, y1 in boxes:
        if lines:
            line = lines[-1]
            height = line[3] - line[1]
            if abs((y0 + y1) / 2 - (line[1] + line[3]) / 2) < max(height, y1 - y0) / 2 and x0 >= line[0] - 1:
                line[0], line[1], line[2], line[3] = min(line[0], x0), min(line[1], y0), max(line[2], x1), max(line[3], y1)
                continue
        lines.append([x0, y0, x1, y1])
    return [tuple(line) for line in lines]


def _has_text_layer(text: str) -> bool:
    return len("".join(text.split())) >= pdf_pages.MIN_TEXT_LAYER_CHARS


def _layer_words(chars: list[pdf_pages.PageChar]) -> list[_Word]:
    """Words of the text layer with the union of their characters' boxes (in points)."""
    words: list[_Word] = []
    current: list[pdf_pages.PageChar] = []

    def close() -> None:
        boxes = [c.box for c in current if c.box is not None]
        if boxes:
            norm = "".join(c.char for c in current).lower()
            words.append(_Word(norm, (min(b[0] for b in boxes), min(b[1] for b in boxes),
                                      max(b[2] for b in boxes), max(b[3] for b in boxes))))
        current.clear()

    for ch in chars:
        if _WORD.fullmatch(ch.char):
            current.append(ch)
        elif current:
            close()
    if current:
        close()
    return words


def _ocr_words(pdf, index: int, scale: float) -> list[_Word]:
    """Words of a scanned page, each with its share of its OCR line's box (in view pixels)."""
    from ragdesk.ingest import ocr

    image = pdf_pages.render(pdf, index)  # the indexing DPI: the same lines as were indexed
    factor = scale / (pdf_pages.RENDER_DPI / 72.0)
    words: list[_Word] = []
    for line in ocr.read_image(image):
        x0, y0, x1, y1 = (v * factor for v in line.box)
        width = (x1 - x0) / max(1, len(line.text))
        for m in _WORD.finditer(line.text):
            words.append(_Word(m.group().lower(), (x0 + m.start() * width, y0, x0 + m.end() * width, y1)))
    return words
