"""What a chunk is indexed under besides its own words: its document's title and heading path.

A chunk of a page called "E0382" rarely repeats the code that names the page;
BM25 gets the title and the heading path as their own weighted columns, and
the embedded text starts with them (``"title — heading path"``, a blank line,
then the chunk), so both retrievers know which page and section a chunk is from.
The chunk's stored text, and so every citation offset, stays the file's own text.
"""

from __future__ import annotations

from pathlib import PurePath

# Kept short: the embedding model reads 256 tokens at most, the chunk needs most of them.
PREFIX_TITLE_CHARS = 100
PREFIX_HEADING_CHARS = 120
SEPARATOR = " — "


def title_or_name(title: str | None, path: str) -> str:
    """The title BM25 indexes: the document's own, else its file name without extension."""
    if title:
        return title
    return PurePath(path.replace("\\", "/")).stem


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def context_prefix(title: str | None, heading: str | None) -> str:
    """``"title — heading path"`` without repeating a title the heading path starts with."""
    heading = heading or ""
    if len(heading) > PREFIX_HEADING_CHARS:
        # Keep the deepest headings, the ones that say most about this chunk.
        heading = "… " + heading[-PREFIX_HEADING_CHARS:].split(" > ", 1)[-1]
    parts = []
    if title:
        short = title[:PREFIX_TITLE_CHARS].rstrip()
        top = _norm(heading.split(" > ", 1)[0]) if heading else ""
        if not top or not (_norm(short).startswith(top) or top.startswith(_norm(short))):
            parts.append(short)
    if heading:
        parts.append(heading)
    return SEPARATOR.join(parts)


def embedding_text(title: str | None, heading: str | None, text: str) -> str:
    """The text embedded for a chunk: its context prefix, a blank line, the chunk (just the chunk without context)."""
    prefix = context_prefix(title, heading)
    return f"{prefix}\n\n{text}" if prefix else text
