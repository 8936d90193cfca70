"""Images (PNG, JPEG, TIFF, WebP): their text, read by OCR; each frame of a TIFF is a page.

An image with no text in it has nothing to index: it is skipped with that
reason, so the report names it instead of keeping an empty document.
"""

from __future__ import annotations

import io

from ragdesk.ingest import ocr
from ragdesk.ingest.document import Extracted, OcrSpan, Section
from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.reading import QUIET, Reading

MAX_FRAMES = 2000  # a multi-page TIFF fax or scan; more is not a document


def extract_image(data: bytes, reading: Reading = QUIET) -> Extracted:
    """OCR text of an image, one section per frame (``page`` set for multi-frame files)."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SkipFile(f"corrupt or unreadable image: {' '.join(str(exc).split())[:150]}") from None
    except Image.DecompressionBombError:
        raise SkipFile("image refused: too many pixels (a decompression bomb?)") from None
    frames = min(frames, MAX_FRAMES)
    parts: list[str] = []
    sections: list[Section] = []
    spans: list[OcrSpan] = []
    length = 0
    for frame in range(frames):
        reading.step(f"OCR page {frame + 1}/{frames}" if frames > 1 else "OCR")
        try:
            image.seek(frame)
            image.load()
            lines = ocr.read_image(image)
        except Image.DecompressionBombError:
            raise SkipFile("image refused: too many pixels (a decompression bomb?)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise SkipFile(f"corrupt or unreadable image: {' '.join(str(exc).split())[:150]}") from None
        text, line_spans = ocr.layout_text(lines)
        if not ocr.has_text(text):
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        sections.append(Section(length, length + len(text), frame + 1 if frames > 1 else None, None))
        spans += [OcrSpan(length + a, length + b, c) for a, b, c in line_spans]
        parts.append(text)
        length += len(text)
    if not parts:
        raise SkipFile("no text found in the image (OCR read nothing)")
    return Extracted(text="".join(parts), sections=sections, kind="image", ocr=spans)
