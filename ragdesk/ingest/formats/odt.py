"""ODT (OpenDocument text): paragraphs, lists and tables in order, ``text:h`` as headings.

odfdo reads the document; headings carry their outline level, so the
heading path works as for DOCX.
"""

from __future__ import annotations

import io

from ragdesk.ingest.document import Extracted, heading_path, push_heading, sections_from_starts
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.zipsafe import open_zip

_SKIP = frozenset(("text:sequence-decls", "office:forms", "text:tracked-changes", "table:table-columns"))


def extract_odt(data: bytes) -> Extracted:
    """Text of an OpenDocument text file with its heading path sections."""
    open_zip(data, "ODT").close()
    from odfdo import Document

    try:
        document = Document(io.BytesIO(data))
        body = document.body
        title = (document.meta.title or "").strip() or None
    except Exception as exc:
        detail = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable ODT: {detail}") from None
    parts: list[str] = []
    starts = []
    stack: list[tuple[int, str]] = []
    length = 0
    previous_tag = None
    todo = list(reversed(body.children))  # explicit stack: lists and sections nest
    while todo:
        element = todo.pop()
        tag = element.tag
        if tag in _SKIP:
            continue
        level = None
        if tag == "text:h":
            piece = _clean(element.inner_text)
            level = int(element.get_attribute("text:outline-level") or 1)
        elif tag == "text:p":
            piece = _clean(element.inner_text)
        elif tag == "table:table-row":
            piece = "\t".join(_clean(cell.text_recursive) for cell in element.children).rstrip("\t")
        else:
            todo.extend(reversed(element.children))
            continue
        if not piece:
            continue
        if parts:
            # rows of one table on consecutive lines; everything else a paragraph apart
            separator = "\n" if tag == previous_tag == "table:table-row" else "\n\n"
            parts.append(separator)
            length += len(separator)
        previous_tag = tag
        if level is not None:
            push_heading(stack, level, piece)
            starts.append((length, None, heading_path(stack)))
        parts.append(piece)
        length += len(piece)
    text = "".join(parts)
    return Extracted(text=text, sections=sections_from_starts(text, starts), kind="odt", title=title)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())
