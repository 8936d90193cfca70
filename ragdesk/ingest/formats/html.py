"""HTML: the visible text, block elements on their own lines, h1-h6 as headings.

Offsets point into the extracted text (not the markup). Whitespace is
collapsed the way a browser renders it, except inside ``<pre>``.
"""

from __future__ import annotations

import logging
import re

from ragdesk.ingest.chrome import chrome_kind, visible_chars
from ragdesk.ingest.decode import looks_binary
from ragdesk.ingest.document import (
    Extracted,
    heading_path,
    push_heading,
    sections_from_starts,
)
from ragdesk.ingest.errors import SkipFile

# BeautifulSoup's encoding detector logs a warning when it had to put in
# replacement characters; the text is still indexed, so that is not news.
logging.getLogger("bs4.dammit").setLevel(logging.ERROR)

_INVISIBLE = frozenset(
    ["head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas", "button", "select", "input", "textarea"]
)
# Elements after which a reader sees a blank line: the chunker prefers these breaks.
_PARAGRAPH = frozenset(
    ["p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "hr", "section", "article", "header", "footer", "nav", "aside", "main", "address", "details", "form", "fieldset"]
)
_LINE = frozenset(["div", "li", "dt", "dd", "tr", "br", "caption", "figcaption", "summary", "legend", "thead", "tbody", "tfoot"])
_CELL = frozenset(("td", "th"))
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_SPACES = re.compile(r"\s+")

_NONE, _CELL_GAP, _NEWLINE, _BLANK = range(4)
_SEPARATORS = ("", "\t", "\n", "\n\n")


def extract_html(data: bytes, drop_chrome: bool = True) -> Extracted:
    """Visible text of an HTML page with its heading path sections.

    With ``drop_chrome`` the page's navigation, sidebars, link lists, help
    overlays, headers and footers are left out (``ragdesk.ingest.chrome``);
    ``Extracted.dropped`` says how much of each.
    """
    from bs4 import BeautifulSoup, NavigableString, Tag

    if looks_binary(data):
        raise SkipFile("binary content, not text")
    # Passing bytes lets BeautifulSoup honour <meta charset> and BOMs.
    soup = BeautifulSoup(data, "html.parser")
    title_tag = soup.find("title")
    page_title = _SPACES.sub(" ", title_tag.get_text(" ")).strip() if title_tag is not None else ""
    builder = _TextBuilder()
    stack: list[tuple[int, str]] = []
    dropped: dict[str, int] = {}
    # Iterative walk: ("enter", node) or ("exit", tag name); deep pages can't overflow.
    work: list = [("enter", soup)]
    pre_depth = 0
    while work:
        action, node = work.pop()
        if action == "exit":
            if node == "pre":
                pre_depth -= 1
            builder.boundary(_block_level(node))
            continue
        if isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not a Comment, Doctype, CData...
                builder.add(str(node), keep_whitespace=pre_depth > 0)
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name in _INVISIBLE or node.has_attr("hidden"):
            continue
        if drop_chrome:
            chrome = chrome_kind(node)
            if chrome is not None:
                dropped[chrome] = dropped.get(chrome, 0) + visible_chars(node)
                builder.boundary(_BLANK)
                continue
        level = _block_level(name)
        builder.boundary(level)
        if name in _HEADINGS:
            title = _heading_text(node, drop_chrome)
            if title:
                push_heading(stack, _HEADINGS[name], title)
                builder.pending_mark = heading_path(stack)
        if name == "pre":
            pre_depth += 1
        work.append(("exit", name))
        work.extend(("enter", child) for child in reversed(node.contents))
    text = builder.text()
    starts = [(pos, None, heading) for pos, heading in builder.marks]
    return Extracted(
        text=text,
        sections=sections_from_starts(text, starts),
        kind="html",
        title=page_title or None,
        dropped={kind: chars for kind, chars in dropped.items() if chars},
    )


def _heading_text(heading, drop_chrome: bool) -> str:
    """A heading's visible words: not its buttons ("Copy item path"), nor, without chrome, its "¶"/"§" anchors."""
    from bs4 import NavigableString, Tag

    parts = []
    work = list(reversed(heading.contents))
    while work:
        node = work.pop()
        if type(node) is NavigableString:  # not a Comment, Doctype, CData...
            parts.append(str(node))
        elif isinstance(node, Tag) and node.name not in _INVISIBLE and not node.has_attr("hidden"):
            if not (drop_chrome and chrome_kind(node) is not None):
                work.extend(reversed(node.contents))
    return _SPACES.sub(" ", " ".join(parts)).strip()


def _block_level(name: str) -> int:
    if name in _PARAGRAPH:
        return _BLANK
    if name in _LINE:
        return _NEWLINE
    if name in _CELL:
        return _CELL_GAP
    return _NONE


class _TextBuilder:
    """Joins text pieces, turning element boundaries into the right separator."""

    def __init__(self):
        self.parts: list[str] = []
        self.length = 0
        self.pending = _NONE  # strongest separator requested since the last text
        self.trailing_space = True  # start of text counts as after whitespace
        self.pending_mark: str | None = None  # heading path starting at the next text
        self.marks: list[tuple[int, str]] = []

    def boundary(self, level: int) -> None:
        self.pending = max(self.pending, level)

    def add(self, piece: str, keep_whitespace: bool) -> None:
        if not keep_whitespace:
            piece = _SPACES.sub(" ", piece)
            if self.trailing_space or self.pending:
                piece = piece.lstrip(" ")
        if not piece:
            return
        if self.length and self.pending:
            last = self.parts[-1]
            if last.endswith(" "):
                # a collapsed space before a block boundary is not rendered
                self.parts[-1] = last.rstrip(" ")
                self.length -= len(last) - len(self.parts[-1])
            self._append(_SEPARATORS[self.pending])
        self.pending = _NONE
        if self.pending_mark is not None:
            self.marks.append((self.length, self.pending_mark))
            self.pending_mark = None
        self._append(piece)
        self.trailing_space = piece[-1].isspace()

    def _append(self, piece: str) -> None:
        self.parts.append(piece)
        self.length += len(piece)

    def text(self) -> str:
        return "".join(self.parts)
