"""Markdown: the file's own text, split into sections at ATX and setext headings.

markdown-it-py finds the headings (so a ``# comment`` inside a fenced code
block is not one) and its line maps give their positions in the file.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ragdesk.ingest.decode import decode_text
from ragdesk.ingest.document import Extracted, heading_path, push_heading, sections_from_starts

# markdown-it counts lines after turning \r\n and \r into \n; so do we.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?^(?:---|\.\.\.)[ \t]*$", re.S | re.M)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(\S[^\r\n]*)$", re.M)


@lru_cache(maxsize=2)
def _parser(inline: bool):
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    if not inline:
        # Only block structure is needed; inline parsing (the slow part) is
        # done for heading lines alone, with the other parser.
        md.disable("inline")
    return md


def extract_markdown(data: bytes) -> Extracted:
    """Markdown text with one section per heading (path like ``"Guide > Install"``)."""
    text = decode_text(data)
    front = _FRONT_MATTER.match(text)
    title = _FRONT_TITLE.search(front.group()) if front else None
    return Extracted(
        text=text,
        sections=markdown_sections(text),
        kind="markdown",
        title=title.group(1).strip().strip("\"'") if title else None,
    )


def markdown_sections(text: str) -> list:
    md = _parser(False)
    line_starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
    front = _FRONT_MATTER.match(text)
    first_body_line = 0
    if front:
        first_body_line = len(_LINE_BREAK.findall(text, 0, front.end())) + 1
    tokens = md.parse(text)
    stack: list[tuple[int, str]] = []
    starts = []
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or token.level != 0 or not token.map:
            continue  # headings inside lists or quotes are not document structure
        line = token.map[0]
        if line < first_body_line or i + 1 >= len(tokens):
            continue
        title = _plain_title(tokens[i + 1].content)
        push_heading(stack, int(token.tag[1:]), title)
        starts.append((line_starts[min(line, len(line_starts) - 1)], None, heading_path(stack)))
    return sections_from_starts(text, starts)


def _plain_title(source: str) -> str:
    """Heading text without markup: ``"Install *now*"`` -> ``"Install now"``."""
    parts = []
    for block in _parser(True).parseInline(source):
        for child in block.children or []:
            if child.type in ("text", "code_inline", "html_inline"):
                parts.append(child.content if child.type != "html_inline" else "")
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
    return "".join(parts).strip() or source.strip()
