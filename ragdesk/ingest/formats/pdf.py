"""PDF: text page by page with pypdf, OCR for pages without a text layer; sections never cross a page.

Headings come from the document outline (bookmarks) where there is one: a
bookmark's title is looked up on its page, and the heading path holds from
there on. Offsets point into the extracted text, pages joined by a blank line.
"""

from __future__ import annotations

import io
import logging
import warnings

from ragdesk.ingest.document import Extracted, OcrSpan, Section, heading_path, push_heading, trim_section
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.reading import QUIET, Reading

# pypdf logs every oddity it works around ("EOF marker not found", "Advanced
# encoding ... not implemented yet"), some at ERROR, with whole tables in the
# message; the user gets our one-line reason instead.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)

_PAGE_SEPARATOR = "\n\n"


def extract_pdf(data: bytes, reading: Reading = QUIET) -> Extracted:
    """Text of a PDF, one or more sections per page (1-based ``page``).

    Pages without a text layer are read by OCR (``Extracted.ocr`` marks them).
    """
    from ragdesk.ingest.formats.pdf_ocr import ocr_pages

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open(data)
        page_texts = _page_texts(reader)
        bookmarks = _bookmarks(reader)
        doc_title = _metadata_title(reader)
    ocr_spans = ocr_pages(data, page_texts, reading)
    if not any(t.strip() for t in page_texts):
        raise SkipFile("no text found (no text layer, and no text that OCR could read)")
    parts, sections, offset = [], [], 0
    read_by_ocr: list[OcrSpan] = []
    stack: list[tuple[int, str]] = []
    by_page: dict[int, list[tuple[int, str]]] = {}
    for page_index, level, title in bookmarks:
        by_page.setdefault(page_index, []).append((level, title))
    for index, page_text in enumerate(page_texts):
        if index:
            parts.append(_PAGE_SEPARATOR)
            offset += len(_PAGE_SEPARATOR)
        cuts = [(0, heading_path(stack))]
        search_from = 0
        for level, title in by_page.get(index, []):
            found = _find_title(page_text, title, search_from)
            push_heading(stack, level, title)
            if found < 0:
                found = search_from  # title not in the text: it holds from here
            search_from = found
            if cuts[-1][0] == found:
                cuts[-1] = (found, heading_path(stack))
            else:
                cuts.append((found, heading_path(stack)))
        for i, (start, heading) in enumerate(cuts):
            end = cuts[i + 1][0] if i + 1 < len(cuts) else len(page_text)
            section = trim_section(page_text, start, end, index + 1, heading)
            if section is not None:
                sections.append(
                    Section(section.start + offset, section.end + offset, index + 1, heading)
                )
        read_by_ocr += [OcrSpan(offset + a, offset + b, c) for a, b, c in ocr_spans.get(index, [])]
        parts.append(page_text)
        offset += len(page_text)
    return Extracted(text="".join(parts), sections=sections, kind="pdf", title=doc_title, ocr=read_by_ocr)


def _metadata_title(reader) -> str | None:
    """The document information dictionary's /Title, unless it is a file name."""
    try:
        title = " ".join(str((reader.metadata or {}).get("/Title") or "").split())
    except Exception:
        return None  # a broken info dictionary only costs us the title
    # "Microsoft Word - report.doc", "draft.pdf": a converter's name for the file, not a title.
    if not title or title.lower().endswith((".doc", ".docx", ".pdf", ".tex", ".dvi", ".odt")):
        return None
    return title


def _open(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:
        raise SkipFile(f"corrupt or unreadable PDF: {_describe(exc)}") from None
    if reader.is_encrypted:
        try:
            # Many PDFs are "encrypted" only against editing, with an empty
            # user password: those open in any viewer, so we read them too.
            opened = reader.decrypt("")
        except DependencyError:
            raise SkipFile(
                "encrypted PDF (AES); reading it needs the 'cryptography' package"
            ) from None
        except Exception as exc:
            raise SkipFile(f"corrupt or unreadable PDF: {_describe(exc)}") from None
        if not opened:
            raise SkipFile("encrypted PDF (password required)")
    return reader


def _page_texts(reader) -> list[str]:
    try:
        pages = list(reader.pages)
    except Exception as exc:
        raise SkipFile(f"corrupt or unreadable PDF: {_describe(exc)}") from None
    texts, failures, first_error = [], 0, None
    for page in pages:
        try:
            texts.append(page.extract_text() or "")
        except Exception as exc:  # one damaged page should not lose the others
            failures += 1
            first_error = first_error or exc
            texts.append("")
    if pages and failures == len(pages):
        raise SkipFile(f"corrupt or unreadable PDF: {_describe(first_error)}")
    return texts


def _bookmarks(reader) -> list[tuple[int, int, str]]:
    """(page index, level, title) of outline entries, in reading order."""
    out: list[tuple[int, int, str]] = []
    try:
        outline = reader.outline
    except Exception:
        return out  # a broken outline only costs us the headings
    todo = [(item, 1) for item in reversed(outline)]  # explicit stack: outlines can nest deeply
    while todo:
        item, level = todo.pop()
        if isinstance(item, list):
            todo.extend((child, level + 1) for child in reversed(item))
            continue
        try:
            page = reader.get_destination_page_number(item)
            title = " ".join(str(item.title or "").split())
        except Exception:
            continue
        if page is not None and page >= 0 and title:
            out.append((page, level, title))
    # Stable sort: bookmarks listed out of page order still apply page by page.
    out.sort(key=lambda b: b[0])
    return out


def _find_title(page_text: str, title: str, start: int) -> int:
    found = page_text.find(title, start)
    if found < 0:
        found = page_text.lower().find(title.lower(), start)
    return found


def _describe(exc: BaseException | None) -> str:
    text = " ".join(str(exc).split()) if exc is not None else ""
    name = type(exc).__name__ if exc is not None else "error"
    return (text or name)[:150]
