"""What extraction produces: a document's text and the sections it is made of."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Section:
    """A span ``text[start:end]`` sharing one page and one heading path.

    ``page`` is 1-based (PDF only); ``heading`` is a path like
    ``"Guide > Install > Linux"`` or None outside any heading.
    """

    start: int
    end: int
    page: int | None
    heading: str | None


@dataclass
class Extracted:
    """A document's text with its sections.

    Sections are ordered, non-overlapping and cover the text; whatever lies
    between them is whitespace only. ``kind`` is one of ``"pdf"``, ``"docx"``,
    ``"html"``, ``"markdown"``, ``"rst"``, ``"text"``, ``"code"``, ``"pptx"``,
    ``"xlsx"``, ``"csv"``, ``"tsv"``, ``"epub"``, ``"odt"``, ``"image"``.

    ``ocr`` lists the spans of the text that OCR read, with the engine's
    confidence; ``title`` is the document's own title where the format
    records one (None otherwise); ``notes`` are one-line remarks for the
    indexing report about what was read only in part; ``dropped`` maps the
    page chrome left out (``"navigation"``, ``"help overlay"``...) to its
    number of visible characters.
    """

    text: str
    sections: list[Section] = field(default_factory=list)
    kind: str = "text"
    title: str | None = None
    ocr: list[OcrSpan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    def ocr_confidence(self, start: int, end: int) -> float | None:
        """Mean OCR confidence over ``text[start:end]`` (by characters), None if none of it was OCR'd."""
        weight = total = 0.0
        for span in self.ocr:
            if span.end <= start or span.start >= end:
                continue
            overlap = min(end, span.end) - max(start, span.start)
            weight += overlap
            total += overlap * span.confidence
        return round(total / weight, 4) if weight else None


@dataclass(frozen=True)
class OcrSpan:
    """``text[start:end]`` was read by OCR with this confidence (0..1)."""

    start: int
    end: int
    confidence: float


class BlockJoiner:
    """Joins a document's blocks (paragraphs, tables, slides) into text and sections.

    Blocks are separated by a blank line unless told otherwise; a heading
    block (``level``) extends the heading path from there on, and ``section``
    starts a section with an explicit (page, heading) at the block.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.stack: list[tuple[int, str]] = []
        self.starts: list[tuple[int, int | None, str | None]] = []

    def add(
        self,
        piece: str,
        separator: str = "\n\n",
        *,
        level: int | None = None,
        section: tuple[int | None, str | None] | None = None,
    ) -> None:
        if not piece:
            return
        if self.parts:
            self.parts.append(separator)
            self.length += len(separator)
        if level is not None:
            push_heading(self.stack, level, piece)
            self.starts.append((self.length, None, heading_path(self.stack)))
        elif section is not None:
            self.starts.append((self.length, *section))
        self.parts.append(piece)
        self.length += len(piece)

    def result(self, kind: str, title: str | None = None) -> Extracted:
        text = "".join(self.parts)
        return Extracted(text=text, sections=sections_from_starts(text, self.starts), kind=kind, title=title)


def heading_path(stack: list[tuple[int, str]]) -> str | None:
    """Join a stack of (level, title) into ``"A > B > C"`` (None when empty)."""
    titles = [title for _, title in stack if title]
    return " > ".join(titles) if titles else None


def push_heading(stack: list[tuple[int, str]], level: int, title: str) -> None:
    """Enter a heading of ``level``: drop headings at the same or a deeper level."""
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, " ".join(title.split())))


def sections_from_starts(
    text: str, starts: list[tuple[int, int | None, str | None]]
) -> list[Section]:
    """Build covering sections from ``(start, page, heading)`` boundaries.

    Each section runs to the next boundary (the last to the end of the text);
    the text before the first boundary gets no heading. Sections holding only
    whitespace are dropped, so gaps between sections are whitespace only.
    """
    bounds = sorted({s for s, _, _ in starts} | {0})
    info: dict[int, tuple[int | None, str | None]] = {0: (None, None)}
    for start, page, heading in starts:
        info[start] = (page, heading)  # the later boundary at one offset wins
    sections = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else len(text)
        section = trim_section(text, start, end, *info[start])
        if section is not None:
            sections.append(section)
    return merge_bare_headings(text, sections)


def merge_bare_headings(text: str, sections: list[Section]) -> list[Section]:
    """Fold a section holding only its heading line into the subsection after it.

    ``# Guide`` directly followed by ``## Install`` would otherwise be a chunk
    of one word; joined, the text keeps both titles and the heading path
    ``Guide > Install`` still describes every line of it.
    """
    out: list[Section] = []
    last_is_bare = False  # whether out[-1] is (or ends with) a bare heading
    for section in sections:
        if out and last_is_bare and _is_child(out[-1], section):
            out[-1] = Section(out[-1].start, section.end, section.page, section.heading)
        else:
            out.append(section)
        last_is_bare = _is_bare_heading(text, section)
    return out


def _is_bare_heading(text: str, section: Section) -> bool:
    if not section.heading:
        return False
    title = section.heading.rsplit(" > ", 1)[-1]
    body = text[section.start:section.end]
    # Compare letters and digits only: markup (#, ===, ``) and spacing differ.
    return len(body) <= 4 * len(title) + 200 and _NOT_WORD.sub("", body) == _NOT_WORD.sub("", title)


def _is_child(parent: Section, child: Section) -> bool:
    return (
        parent.page == child.page
        and child.heading is not None
        and child.heading.startswith(parent.heading + " > ")
    )


def trim_section(text: str, start: int, end: int, page: int | None, heading: str | None):
    """A Section over ``text[start:end]`` minus surrounding whitespace, or None if blank."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return None
    return Section(start, end, page, heading)
