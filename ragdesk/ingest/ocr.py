"""Offline OCR: RapidOCR's PP-OCR models, shipped inside its wheel, run by onnxruntime.

The model files are passed by path, so nothing is ever downloaded (RapidOCR
would otherwise fetch missing models from the network). One engine is shared
by the process and used by one caller at a time: the library keeps per-call
state, and two OCR runs in parallel would only fight over the same cores.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Line spacing larger than this many line heights starts a new paragraph.
_PARAGRAPH_GAP = 0.9
# Fewer letters and digits than this on a page is a stray mark read as a letter
# (a circle taken for "O"), not text.
MIN_TEXT_CHARS = 3
_LOCK = threading.Lock()


@dataclass(frozen=True)
class OcrLine:
    """One line the engine read: text, confidence (0..1), box (x0, y0, x1, y1) in image pixels."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


def ocr_threads() -> int:
    """Threads per OCR call: ``RAGDESK_OCR_THREADS``, else half the CPUs (at most 4)."""
    value = os.environ.get("RAGDESK_OCR_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def model_files() -> dict[str, Path]:
    """The detection, recognition and orientation models inside the rapidocr package."""
    import rapidocr

    root = Path(rapidocr.__file__).parent / "models"
    files = {
        "Det": root / "PP-OCRv6_det_small.onnx",
        "Rec": root / "PP-OCRv6_rec_small.onnx",
        "Cls": root / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise RuntimeError(f"OCR model files are missing from the rapidocr package: {', '.join(missing)}")
    return files


@lru_cache(maxsize=2)
def _engine(threads: int):
    from rapidocr import RapidOCR

    params = {"Global.log_level": "error", "Global.use_cls": False}
    for task, path in model_files().items():
        params[f"{task}.model_path"] = str(path)
    params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
    params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
    return RapidOCR(params=params)


def read_image(image: Image.Image, threads: int | None = None) -> list[OcrLine]:
    """The lines of text in an image, top to bottom, each with its confidence and box."""
    import numpy as np

    array = np.asarray(image.convert("RGB"))
    with _LOCK:
        result = _engine(threads or ocr_threads())(array)
    if not result.txts:
        return []
    lines = []
    for text, score, box in zip(result.txts, result.scores, result.boxes):
        text = " ".join(str(text).split())
        if not text:
            continue
        xs, ys = [float(p[0]) for p in box], [float(p[1]) for p in box]
        lines.append(OcrLine(text, float(score), (min(xs), min(ys), max(xs), max(ys))))
    return lines


def has_text(text: str) -> bool:
    """Whether OCR output holds real text rather than a stray glyph or two."""
    return sum(ch.isalnum() for ch in text) >= MIN_TEXT_CHARS


def layout_text(lines: list[OcrLine]) -> tuple[str, list[tuple[int, int, float]]]:
    """Join OCR lines into text in reading order; also (start, end, confidence) per line.

    Boxes whose vertical centres lie within half a line height form one row,
    read left to right; a gap taller than about a line starts a paragraph.
    """
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: ((ln.box[1] + ln.box[3]) / 2, ln.box[0])):
        centre = (line.box[1] + line.box[3]) / 2
        if rows:
            last = rows[-1][0]
            height = last.box[3] - last.box[1]
            if abs(centre - (last.box[1] + last.box[3]) / 2) < height / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    parts: list[str] = []
    spans: list[tuple[int, int, float]] = []
    length = 0
    previous = None
    for row in rows:
        row.sort(key=lambda ln: ln.box[0])
        if previous is not None:
            height = previous.box[3] - previous.box[1]
            gap = row[0].box[1] - previous.box[3]
            separator = "\n\n" if gap > _PARAGRAPH_GAP * height else "\n"
            parts.append(separator)
            length += len(separator)
        for i, line in enumerate(row):
            if i:
                parts.append("  ")
                length += 2
            spans.append((length, length + len(line.text), line.confidence))
            parts.append(line.text)
            length += len(line.text)
        previous = row[0]
    return "".join(parts), spans
