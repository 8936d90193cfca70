"""Pick the extractor for a file by its extension, and vouch for its result."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

from ragdesk.ingest.document import Extracted, Section
from ragdesk.ingest.errors import Cancelled, SkipFile
from ragdesk.ingest.loader import LoadedFile
from ragdesk.ingest.reading import QUIET, Reading

_KIND_BY_EXTENSION = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "csv",
    ".tsv": "tsv",
    ".epub": "epub",
    ".odt": "odt",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
    ".webp": "image",
}
_LABEL = {
    "pdf": "PDF", "docx": "DOCX", "html": "HTML", "markdown": "Markdown", "rst": "RST", "pptx": "PPTX",
    "xlsx": "XLSX", "csv": "CSV", "tsv": "TSV", "epub": "EPUB", "odt": "ODT", "image": "image",
}
# kind -> (module under ragdesk.ingest.formats, function); imported on first use, so a
# run that meets no PDF never imports pypdf and one without images never loads OCR.
_READERS = {
    "pdf": ("pdf", "extract_pdf"),
    "docx": ("docx", "extract_docx"),
    "html": ("html", "extract_html"),
    "markdown": ("markdown", "extract_markdown"),
    "rst": ("rst", "extract_rst"),
    "pptx": ("pptx", "extract_pptx"),
    "xlsx": ("xlsx", "extract_xlsx"),
    "csv": ("delimited", "extract_delimited"),
    "tsv": ("delimited", "extract_delimited"),
    "epub": ("epub", "extract_epub"),
    "odt": ("odt", "extract_odt"),
    "image": ("image", "extract_image"),
}
TITLE_MAX_CHARS = 200
# Metadata titles that name no document (word processors and PDF makers write these).
_PLACEHOLDER_TITLES = frozenset(("untitled", "untitled document", "document", "title", "slide 1", "none"))
_LONG_READS = frozenset(("pdf", "image"))  # readers that report progress and can be cancelled


def kind_for(path: Path | str) -> str:
    """The document kind a file name implies; any other indexed extension is code."""
    return _KIND_BY_EXTENSION.get(Path(path).suffix.lower(), "code")


def extract(loaded: LoadedFile, reading: Reading = QUIET, *, drop_chrome: bool = True) -> Extracted:
    """Text and sections of a loaded file; raises SkipFile with a one-line reason.

    ``reading`` receives per-page progress of long reads (OCR) and may cancel
    them (Cancelled is raised). ``drop_chrome`` leaves web pages' navigation,
    sidebars and the like out (see ``ragdesk.ingest.chrome``).
    """
    kind = kind_for(loaded.path)
    try:
        # Parsers warn about what they repaired (bs4: "Some characters could not
        # be decoded"); that is not the user's concern, the outcome is.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = _extract(kind, loaded.data, reading, drop_chrome)
    except (SkipFile, Cancelled):
        raise
    except (MemoryError, RecursionError):
        raise SkipFile(f"{_LABEL.get(kind, kind)} file too complex to read") from None
    except Exception as exc:  # a parser bug on odd input must not stop a whole run
        detail = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable {_LABEL.get(kind, kind)} file: {detail}") from None
    if not doc.text.strip() or not doc.sections:
        if doc.dropped:
            raise SkipFile(f"only page chrome ({', '.join(doc.dropped)}), no text")
        raise SkipFile("no text")
    doc.title = document_title(doc)
    return doc


def document_title(doc: Extracted) -> str | None:
    """The title a document names itself by: the format's own (HTML <title>, PDF
    or Office metadata), else its first heading; None when it has neither (the
    store then falls back to the file name). Whitespace collapsed, length capped."""
    title = " ".join((doc.title or "").split())
    if not title or title.lower() in _PLACEHOLDER_TITLES:
        first = next((s.heading for s in doc.sections if s.heading), None)
        title = first.split(" > ", 1)[0] if first else ""
    return title[:TITLE_MAX_CHARS].rstrip() or None


def _extract(kind: str, data: bytes, reading: Reading, drop_chrome: bool) -> Extracted:
    if kind not in _READERS:
        from ragdesk.ingest.formats.text import extract_text

        return extract_text(data, kind)
    module, name = _READERS[kind]
    reader = getattr(importlib.import_module(f"ragdesk.ingest.formats.{module}"), name)
    if kind in _LONG_READS:
        return reader(data, reading)
    if kind == "tsv":
        return reader(data, "\t")
    if kind == "html":
        return reader(data, drop_chrome)
    return reader(data)


def check_sections(doc: Extracted) -> None:
    """Raise AssertionError unless sections are ordered, disjoint and cover the text.

    Cheap enough to run on every document in tests; the chunker relies on it.
    """
    pos = 0
    for section in doc.sections:
        assert isinstance(section, Section)
        assert pos <= section.start < section.end <= len(doc.text), (section, pos)
        assert not doc.text[pos:section.start].strip(), ("non-blank gap", section)
        pos = section.end
    assert not doc.text[pos:].strip(), "non-blank text after the last section"
