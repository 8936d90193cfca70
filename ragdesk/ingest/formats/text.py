"""Plain text and source code: the decoded file is the text, one section."""

from __future__ import annotations

from ragdesk.ingest.decode import decode_text
from ragdesk.ingest.document import Extracted, trim_section


def extract_text(data: bytes, kind: str = "text") -> Extracted:
    """A text or code file as one heading-less section over its whole text."""
    text = decode_text(data)
    section = trim_section(text, 0, len(text), None, None)
    return Extracted(text=text, sections=[section] if section else [], kind=kind)
