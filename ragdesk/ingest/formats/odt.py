"""ODT (OpenDocument text): paragraphs, lists and tables in order, ``text:h`` as headings.

odfdo reads the document; headings carry their outline level, so the
heading path works as for DOCX.
"""

from __future__ import annotations

import io

from ragdesk.ingest.document import BlockJoiner, Extracted
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
    joiner = BlockJoiner()
    previous_tag = None
    todo = list(reversed(body.children))  # explicit stack: lists and sections nest
    while todo:
        element = todo.pop()
        tag = element.tag
        if tag in _SKIP:
            continue
        if tag not in ("text:h", "text:p", "table:table-row"):
            todo.extend(reversed(element.children))
            continue
        if tag == "table:table-row":
            piece = "\t".join(_clean(cell.text_recursive) for cell in element.children).rstrip("\t")
        else:
            piece = _clean(element.inner_text)
        if not piece:
            continue
        # rows of one table on consecutive lines; everything else a paragraph apart
        separator = "\n" if tag == previous_tag == "table:table-row" else "\n\n"
        level = int(element.get_attribute("text:outline-level") or 1) if tag == "text:h" else None
        joiner.add(piece, separator, level=level)
        previous_tag = tag
    return joiner.result("odt", title)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())
