"""OCR for the pages of a PDF that have no text layer (scans), one page at a time.

Mixed PDFs OCR only the pages that need it: a page whose text layer holds
fewer than a handful of characters and that shows an image. Each page is
rendered, read and dropped before the next, so a 500-page scan never holds
more than one page image; progress is reported and cancellation checked
between pages.
"""

from __future__ import annotations

from ragdesk.ingest import ocr, pdf_pages
from ragdesk.ingest.reading import Reading


def needs_ocr(page_text: str) -> bool:
    """Whether a page's text layer is too thin to be its text (a scan, maybe with a stamp)."""
    return len("".join(page_text.split())) < pdf_pages.MIN_TEXT_LAYER_CHARS


def ocr_pages(data: bytes, page_texts: list[str], reading: Reading) -> dict[int, list[tuple[int, int, float]]]:
    """OCR the pages that need it, in place in ``page_texts``.

    Returns ``{page index: [(start, end, confidence), ...]}`` with offsets
    into that page's new text, for the pages whose text came from OCR.
    """
    todo = [i for i, text in enumerate(page_texts) if needs_ocr(text)]
    if not todo:
        return {}
    spans: dict[int, list[tuple[int, int, float]]] = {}
    total = len(page_texts)
    with pdf_pages.opened(data) as pdf:
        for index in todo:
            if index >= pdf_pages.page_count(pdf) or not pdf_pages.has_images(pdf, index):
                continue  # a blank page or pure drawings: nothing to read
            reading.step(f"OCR page {index + 1}/{total}")
            image = pdf_pages.render(pdf, index)
            lines = ocr.read_image(image)
            del image
            text, page_spans = ocr.layout_text(lines)
            if ocr.has_text(text):
                page_texts[index] = text
                spans[index] = page_spans
    return spans
