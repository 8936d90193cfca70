"""OCR throughput on a generated scan: ragdesk's PDF reader next to the bare OCR engine.

A scan of N full pages (about 30 lines of prose each, pictured at 150 DPI,
no text layer) is built with PIL and fpdf2. Then, in one run, on the same
pages and the same thread count (``--threads``, default 2):

- raw: pypdfium2 renders each page, RapidOCR reads it (the floor);
- ragdesk: ``extract()`` on the PDF (pypdf finds no text layer, each page is
  rendered, OCR'd, laid out into text; one page in memory at a time).

Prints pages/s for both, the ratio raw/ragdesk, the character accuracy of
the text against what was pictured (difflib ratio) and the peak RSS.
Usage: python tests/benchmarks/bench_ocr.py [--pages 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import difflib
import os
import resource
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.*
from common import Timer  # noqa: E402
from support import documents as D  # noqa: E402
from support import office as O  # noqa: E402


def page_lines(page: int) -> list[str]:
    text = " ".join(D.paragraph(page + k, page * 3 + k, sentences=4) for k in range(3))
    return textwrap.wrap(text, 78)[:30]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["RAGDESK_OCR_THREADS"] = str(args.threads)
    from ragdesk.ingest import extract, ocr, pdf_pages
    from ragdesk.ingest.loader import LoadedFile
    from ragdesk.ingest.reading import Reading

    with tempfile.TemporaryDirectory() as tmp:
        path = O.make_scan_pdf(Path(tmp) / "scan.pdf", args.pages, lines_for=page_lines, size=26)
        data = path.read_bytes()
    print(f"scan: {args.pages} pages, {len(data) / 1e6:.1f} MB, {args.threads} OCR threads")
    ocr.read_image(O.text_image(["warm up"]), threads=args.threads)  # load the models once

    cpu = time.process_time()
    with Timer() as raw_t:
        raw_chars = 0
        with pdf_pages.opened(data) as pdf:
            for index in range(args.pages):
                raw_chars += sum(len(line.text) for line in ocr.read_image(pdf_pages.render(pdf, index), args.threads))
    raw_cpu = time.process_time() - cpu
    pages_seen: list[str] = []
    cpu = time.process_time()
    with Timer() as ours_t:
        doc = extract(LoadedFile(path, data, len(data), 0, "-"), Reading(progress=pages_seen.append))
    ours_cpu = time.process_time() - cpu
    assert len(pages_seen) == args.pages and len(doc.sections) >= args.pages

    truth = "\n".join("\n".join(page_lines(p)) for p in range(1, args.pages + 1))
    accuracy = difflib.SequenceMatcher(None, " ".join(truth.split()), " ".join(doc.text.split()), autojunk=False).ratio()
    confidence = doc.ocr_confidence(0, len(doc.text))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # CPU seconds are printed too: on a shared machine wall time also counts other people's work.
    for label, wall, used in (("raw render + RapidOCR:       ", raw_t.seconds, raw_cpu),
                              ("ragdesk extract() of the PDF:", ours_t.seconds, ours_cpu)):
        print(f"  {label} {wall:6.1f} s wall ({args.pages / wall:.2f} pages/s), "
              f"{used / args.pages:.2f} CPU-s per page")
    print(f"  ratio raw/ragdesk = {raw_t.seconds / ours_t.seconds:.3f} (wall), {raw_cpu / ours_cpu:.3f} (CPU)")
    print(f"  character accuracy vs the pictured text: {accuracy:.4f}; mean OCR confidence {confidence:.3f}")
    print(f"  peak RSS of the process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
