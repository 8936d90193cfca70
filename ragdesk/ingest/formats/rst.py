"""reStructuredText: the file's own text, split at section titles.

A title is a line underlined (and optionally overlined) by one repeated
punctuation character at least as long as the title. As in docutils, levels
are given by the order in which adornment styles first appear.
"""

from __future__ import annotations

import re

from ragdesk.ingest.decode import decode_text
from ragdesk.ingest.document import Extracted, heading_path, push_heading, sections_from_starts

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")
# The characters docutils accepts for adornment (printable 7-bit non-alphanumerics).
_ADORNMENT = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])\1*[ \t]*$""")


def extract_rst(data: bytes) -> Extracted:
    """RST text with one section per title (path like ``"Guide > Install"``)."""
    text = decode_text(data)
    return Extracted(text=text, sections=rst_sections(text), kind="rst")


def rst_sections(text: str) -> list:
    starts_of, lines = [], []
    for m in _LINE.finditer(text):
        if m.start() == len(text) and lines:
            break
        starts_of.append(m.start())
        lines.append(m.group().rstrip("\r\n"))
    styles: list[tuple[str, bool]] = []  # adornment styles in order of first use
    stack: list[tuple[int, str]] = []
    starts = []
    i, n = 0, len(lines)
    while i < n:
        found = _title_at(lines, i)
        if found is None:
            i += 1
            continue
        title_line, style, consumed = found
        if style not in styles:
            styles.append(style)
        push_heading(stack, styles.index(style) + 1, lines[title_line].strip())
        starts.append((starts_of[i], None, heading_path(stack)))
        i += consumed
    return sections_from_starts(text, starts)


def _adornment(line: str) -> str | None:
    """The adornment character if ``line`` is one (3+ chars, or matched by length)."""
    m = _ADORNMENT.match(line)
    return m.group(1) if m else None


def _title_at(lines: list[str], i: int):
    """If a title starts at line ``i``: (title line index, style, lines used)."""
    n = len(lines)
    if i > 0 and lines[i - 1].strip():
        return None  # a title follows a blank line (or starts the file)
    over = _adornment(lines[i])
    if over and i + 2 < n:
        title, under = lines[i + 1], lines[i + 2]
        if (
            title.strip()
            and _adornment(under) == over
            and len(under.rstrip()) == len(lines[i].rstrip())
            and len(lines[i].rstrip()) >= len(title.rstrip())
            and not _adornment(title)
        ):
            return i + 1, (over, True), 3
    if i + 1 < n:
        title, under = lines[i], lines[i + 1]
        char = _adornment(under)
        if (
            char
            and title.strip()
            and not title[0].isspace()
            and not _adornment(title)
            and len(under.rstrip()) >= max(len(title.rstrip()), 2)
        ):
            return i, (char, False), 2
    return None
