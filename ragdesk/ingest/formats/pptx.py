"""PPTX: each slide's text, its title as the heading and its number as the page.

Text frames are read in the slide's shape order (groups included), tables
row by row, and the speaker notes after the slide's own text: presenters
often put the substance there.
"""

from __future__ import annotations

import io

from ragdesk.ingest.document import BlockJoiner, Extracted
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.zipsafe import open_zip


def extract_pptx(data: bytes) -> Extracted:
    """Slides in order: one section per slide, ``page`` = slide number, heading = slide title."""
    open_zip(data, "PPTX").close()  # refuses encrypted files and zip bombs before python-pptx unpacks
    from pptx import Presentation

    try:
        deck = Presentation(io.BytesIO(data))
        slides = list(deck.slides)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:150] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable PPTX: {detail}") from None
    joiner = BlockJoiner()
    for number, slide in enumerate(slides, start=1):
        title_shape = slide.shapes.title
        title = _clean(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
        pieces = [title] if title else []
        pieces += [p for p in _shape_texts(slide.shapes, skip=title_shape) if p]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                pieces.append("Notes: " + notes.text.strip())
        joiner.add("\n\n".join(pieces), section=(number, title or None))
    return joiner.result("pptx", (deck.core_properties.title or "").strip() or None)


def _shape_texts(shapes, skip=None) -> list[str]:
    out: list[str] = []
    todo = list(reversed(list(shapes)))  # explicit stack: groups can nest
    while todo:
        shape = todo.pop()
        if skip is not None and shape.shape_id == skip.shape_id:
            continue
        if getattr(shape, "shape_type", None) is not None and hasattr(shape, "shapes"):  # a group
            todo.extend(reversed(list(shape.shapes)))
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            rows = ["\t".join(_clean(cell.text) for cell in row.cells).strip() for row in shape.table.rows]
            out.append("\n".join(r for r in rows if r))
        elif shape.has_text_frame:
            out.append("\n".join(p for p in (_clean(par.text) for par in shape.text_frame.paragraphs) if p))
    return out


def _clean(text: str) -> str:
    return " ".join(text.replace("\x0b", " ").split())
