"""Plain text and source code: the decoded file is the text, one section."""

from __future__ import annotations

import re

from ragdesk.ingest.decode import decode_text
from ragdesk.ingest.document import Extracted, trim_section

# A plain-text file's title: its first line, when it stands alone as a short
# paragraph above the body (a note's, an abstract's or a plain-text book's
# opening line), never a salutation or a lead-in ("Dear Sam,", "Contents:").
TITLE_LINE = re.compile(r"\A[ \t]*(\S[^\r\n]{0,148}\S)[ \t]*\r?\n[ \t]*\r?\n")
TITLE_MIN_BODY_CHARS = 200  # a two-line file has no title line, just two lines
_LEAD_IN_ENDINGS = (",", ":", ";")


def extract_text(data: bytes, kind: str = "text") -> Extracted:
    """A text or code file as one heading-less section over its whole text."""
    text = decode_text(data)
    section = trim_section(text, 0, len(text), None, None)
    title = title_line(text) if kind == "text" else None
    return Extracted(text=text, sections=[section] if section else [], kind=kind, title=title)


def title_line(text: str) -> str | None:
    """The first line of a plain-text document when it reads as its title (see ``TITLE_LINE``)."""
    match = TITLE_LINE.match(text)
    if match is None or len(text) - match.end() < TITLE_MIN_BODY_CHARS:
        return None
    line = match.group(1)
    return None if line.endswith(_LEAD_IN_ENDINGS) else line
