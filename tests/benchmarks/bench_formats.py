"""Indexing throughput on a mixed folder holding every supported format.

The folder has ``--copies`` files of each kind, each with its own prose
(generated; see tests/support): text PDF, scanned PDF (2 pages, OCR), DOCX,
PPTX, XLSX (200 rows), CSV (500 rows), EPUB, ODT, HTML, Markdown, RST, plain
text and a PNG of text (OCR). In one run:

1. reading alone: load + extract per file, milliseconds per file by format;
2. the whole folder through ``KnowledgeStore.index`` (walk, read, extract,
   chunk, embed, store) next to a bare ``SentenceTransformer.encode`` of the
   same chunks with the same loaded model: files/s, chunks/s and the ratio.
Usage: python tests/benchmarks/bench_formats.py [--copies 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.*
from common import Timer, scratch_home  # noqa: E402
from support import documents as D  # noqa: E402
from support import office as O  # noqa: E402


def build(folder: Path, copies: int) -> None:
    folder.mkdir(parents=True)
    for i in range(copies):
        prose = [D.paragraph(i + k, 10 * i + k) for k in range(3)]
        D.make_pdf(folder / f"report{i}.pdf", pages=prose, headings=None)
        O.make_scan_pdf(folder / f"scan{i}.pdf", pages=2, lines_for=lambda p, i=i: [f"Scan {i} page {p}"] + O.SCAN_LINES)
        D.make_docx(folder / f"handbook{i}.docx")
        O.make_pptx(folder / f"deck{i}.pptx", slides=[(f"Slide about topic {i}", prose[:2], prose[2])])
        O.make_xlsx(folder / f"orders{i}.xlsx", rows=200)
        O.make_csv(folder / f"weather{i}.csv", rows=500)
        O.make_epub(folder / f"tales{i}.epub", chapters=[(f"Chapter {k}", f"<p>{p}</p>") for k, p in enumerate(prose)])
        O.make_odt(folder / f"workshop{i}.odt")
        D.write_text(folder / f"page{i}.html", D.HTML_PAGE)
        D.write_text(folder / f"guide{i}.md", D.MARKDOWN_DOC + "\n\n" + "\n\n".join(prose))
        D.write_text(folder / f"notes{i}.rst", D.RST_DOC)
        D.write_text(folder / f"log{i}.txt", D.long_text(6))
        O.make_text_image(folder / f"receipt{i}.png", lines=[f"Receipt {i}"] + O.SCAN_LINES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("RAGDESK_OCR_THREADS", "2")
    from ragdesk.embedder import Embedder
    from ragdesk.ingest import Chunker, IngestRules, extract, load, walk
    from ragdesk.settings import Settings
    from ragdesk.store import KnowledgeStore

    root = scratch_home("formats")
    try:
        folder = root / "mixed"
        build(folder, args.copies)
        settings = Settings()
        rules = IngestRules.from_settings(settings)
        embedder = Embedder(settings.embedding_model)
        chunker = Chunker(embedder.tokenizer(), settings.chunk_tokens, settings.chunk_overlap)
        extract(load(next(e for e in walk([folder], rules) if e.path.suffix == ".png"), rules))  # OCR models in
        per_kind: dict[str, list[float]] = defaultdict(list)
        texts: list[str] = []
        for entry in walk([folder], rules):
            start = time.perf_counter()
            doc = extract(load(entry, rules))
            per_kind[_label(entry.path, doc)].append(time.perf_counter() - start)
            texts += [c.text for c in chunker.chunk(doc)]
        files = sum(len(v) for v in per_kind.values())
        print(f"mixed folder: {files} files ({args.copies} of each of {len(per_kind)} kinds), {len(texts)} chunks")
        print("  reading alone (load + extract), ms per file:")
        for kind, times in sorted(per_kind.items(), key=lambda kv: -sum(kv[1])):
            print(f"    {kind:<12} {1000 * sum(times) / len(times):8.1f}")
        model = embedder.model
        model.encode(texts[:32])
        with Timer() as raw:
            model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        with KnowledgeStore(root / "mixed.db", settings) as store:
            store._embedders[settings.embedding_model] = embedder  # the same loaded model
            with Timer() as ours:
                report = store.index([folder])
        assert report.added == files and not report.skipped, report.to_json()
        print(f"  raw SentenceTransformer.encode of the chunks: {raw.seconds:6.1f} s")
        print(f"  ragdesk index (whole pipeline):              {ours.seconds:6.1f} s "
              f"({files / ours.seconds:.2f} files/s, {report.chunks_added / ours.seconds:.1f} chunks/s)")
        print(f"  ratio raw/ragdesk = {raw.seconds / ours.seconds:.3f} (OCR is most of the difference)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _label(path: Path, doc) -> str:
    from ragdesk.ingest import kind_for

    kind = kind_for(path)
    return f"{kind} (scan)" if kind == "pdf" and doc.ocr else kind


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
