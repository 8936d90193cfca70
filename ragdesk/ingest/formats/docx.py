"""DOCX: body paragraphs and tables in document order, with Heading styles.

Paragraphs are separated by a blank line, table rows by a newline and cells
by a tab. ``Title`` and ``Heading N`` paragraphs (or styles based on them)
set the heading path.
"""

from __future__ import annotations

import io
import re

from ragdesk.ingest.document import BlockJoiner, Extracted
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.zipsafe import open_zip

_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.I)


def extract_docx(data: bytes) -> Extracted:
    """Text of a Word document with its heading path sections."""
    open_zip(data, "DOCX").close()  # refuses encrypted files and zip bombs before python-docx unpacks
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
    except Exception as exc:
        detail = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable DOCX: {detail}") from None
    joiner = BlockJoiner()
    for block in blocks:
        if hasattr(block, "rows"):
            joiner.add(_table_text(block))
        else:
            joiner.add(block.text.strip(), level=_heading_level(block))
    try:
        title = (document.core_properties.title or "").strip() or None
    except Exception:
        title = None  # damaged core properties only cost us the title
    return joiner.result("docx", title)


def _heading_level(paragraph) -> int | None:
    """0 for Title, N for Heading N (also via a custom style based on one)."""
    try:
        style = paragraph.style
    except Exception:
        return None
    for _ in range(8):  # base-style chains are short; a cycle must not hang us
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        m = _HEADING_STYLE.fullmatch(name)
        if m:
            return int(m.group(1))
        style = style.base_style
    return None


def _table_text(table) -> str:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        line = "\t".join(cells).strip()
        if line:
            rows.append(line)
    return "\n".join(rows)
