"""Pick the extractor for a file by its extension, and vouch for its result."""

from __future__ import annotations

import warnings
from pathlib import Path

from ragdesk.ingest.document import Extracted, Section
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.loader import LoadedFile

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
}
_LABEL = {"pdf": "PDF", "docx": "DOCX", "html": "HTML", "markdown": "Markdown", "rst": "RST"}


def kind_for(path: Path | str) -> str:
    """The document kind a file name implies; any other indexed extension is code."""
    return _KIND_BY_EXTENSION.get(Path(path).suffix.lower(), "code")


def extract(loaded: LoadedFile) -> Extracted:
    """Text and sections of a loaded file; raises SkipFile with a one-line reason."""
    kind = kind_for(loaded.path)
    try:
        # Parsers warn about what they repaired (bs4: "Some characters could not
        # be decoded"); that is not the user's concern, the outcome is.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = _extract(kind, loaded.data)
    except SkipFile:
        raise
    except (MemoryError, RecursionError):
        raise SkipFile(f"{_LABEL.get(kind, kind)} file too complex to read") from None
    except Exception as exc:  # a parser bug on odd input must not stop a whole run
        detail = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable {_LABEL.get(kind, kind)} file: {detail}") from None
    if not doc.text.strip() or not doc.sections:
        raise SkipFile("no text")
    return doc


def _extract(kind: str, data: bytes) -> Extracted:
    # Formats import their parser library on first use only.
    if kind == "pdf":
        from ragdesk.ingest.formats.pdf import extract_pdf

        return extract_pdf(data)
    if kind == "docx":
        from ragdesk.ingest.formats.docx import extract_docx

        return extract_docx(data)
    if kind == "html":
        from ragdesk.ingest.formats.html import extract_html

        return extract_html(data)
    if kind == "markdown":
        from ragdesk.ingest.formats.markdown import extract_markdown

        return extract_markdown(data)
    if kind == "rst":
        from ragdesk.ingest.formats.rst import extract_rst

        return extract_rst(data)
    from ragdesk.ingest.formats.text import extract_text

    return extract_text(data, kind)


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
