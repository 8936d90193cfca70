"""PDF pages as pictures and as positioned characters, through PDFium (pypdfium2).

Used twice: indexing renders the pages that have no text layer for OCR, and
the citation viewer renders a cited page and finds where the chunk sits on
it. PDFium is not thread-safe, so every call into it holds ``PDFIUM_LOCK``;
OCR itself runs outside the lock, so a page can be shown while a scan is
being indexed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragdesk.ingest.errors import SkipFile

if TYPE_CHECKING:
    from PIL import Image

PDFIUM_LOCK = threading.RLock()
RENDER_DPI = 150  # for OCR: 10-point text is about 20 px high, plenty for PP-OCR
MIN_TEXT_LAYER_CHARS = 16  # a page with fewer visible characters has no real text layer


@dataclass(frozen=True)
class PageChar:
    """One character of a page's text layer; ``box`` (x0, y0, x1, y1) in points from the top left."""

    char: str
    box: tuple[float, float, float, float] | None


@contextmanager
def opened(source) -> Iterator:
    """A pypdfium2 PdfDocument over bytes or a path, closed afterwards (hold PDFIUM_LOCK to use it)."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(source)
        except pdfium.PdfiumError as exc:
            raise SkipFile(f"corrupt or unreadable PDF: {' '.join(str(exc).split())[:150]}") from None
    try:
        yield pdf
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def page_count(pdf) -> int:
    with PDFIUM_LOCK:
        return len(pdf)


def has_images(pdf, index: int) -> bool:
    """Whether page ``index`` shows any image (what a scan is made of)."""
    import pypdfium2.raw as raw

    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            return any(True for _ in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=3))
        finally:
            page.close()


def render(pdf, index: int, dpi: float = RENDER_DPI) -> Image.Image:
    """Page ``index`` as an RGB image at ``dpi`` (one page in memory at a time)."""
    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            bitmap = page.render(scale=dpi / 72.0)
            try:
                return bitmap.to_pil().convert("RGB")  # a copy: the bitmap's buffer is freed below
            finally:
                bitmap.close()
        finally:
            page.close()


def page_size(pdf, index: int) -> tuple[float, float]:
    """(width, height) of page ``index`` in points."""
    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            return page.get_size()
        finally:
            page.close()


def page_chars(pdf, index: int) -> list[PageChar]:
    """The characters of page ``index`` in text order with their boxes (points, top-left origin)."""
    with PDFIUM_LOCK:
        page = pdf[index]
        try:
            height = page.get_height()
            text_page = page.get_textpage()
            try:
                count = text_page.count_chars()
                text = text_page.get_text_range(0, count) if count else ""
                out = []
                for i, char in enumerate(text[:count]):
                    left, bottom, right, top = text_page.get_charbox(i, loose=True)
                    box = None if right <= left else (left, height - top, right, height - bottom)
                    out.append(PageChar(char, box))
                return out
            finally:
                text_page.close()
        finally:
            page.close()
