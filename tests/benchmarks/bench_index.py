"""Indexing throughput vs raw SentenceTransformer.encode, and re-indexing an unchanged folder.

(1) Throughput: N SciFact abstracts as files. The same chunks (ragdesk's chunker)
    are embedded with a bare ``SentenceTransformer.encode`` call, and the folder is
    indexed by ``KnowledgeStore.index`` (walk, read, extract, chunk, embed, store),
    both with the model already loaded, alternately, in one run.
    Ratio = raw encode time / ragdesk index time (target >= 0.85).
(2) Re-index: an already indexed folder of 5,000 files is indexed again by the real
    ``ragdesk index`` command in a new process (target < 2 s; the embedding model
    must not load).
Usage: python tests/benchmarks/bench_index.py [--docs 800] [--files 5000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import Timer, scratch_home, write_scifact_corpus


def throughput(root: Path, docs: int, rounds: int) -> None:
    from ragdesk.embedder import Embedder
    from ragdesk.ingest import Chunker, IngestRules, extract, load, walk
    from ragdesk.settings import Settings
    from ragdesk.store import KnowledgeStore

    folder = root / "abstracts"
    write_scifact_corpus(folder, docs)
    settings = Settings()
    embedder = Embedder(settings.embedding_model)
    chunker = Chunker(embedder.tokenizer(), settings.chunk_tokens, settings.chunk_overlap)
    rules = IngestRules.from_settings(settings)
    texts = [c.text for entry in walk([folder], rules) for c in chunker.chunk(extract(load(entry, rules)))]
    model = embedder.model
    model.encode(texts[:64])  # warm up
    raw_times, ours = [], []
    for r in range(rounds):
        with Timer() as t:
            model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        raw_times.append(t.seconds)
        db = root / f"round{r}.db"
        with KnowledgeStore(db, settings) as store:
            store._embedders[settings.embedding_model] = embedder  # same loaded model
            with Timer() as t:
                report = store.index([folder])
            ours.append(t.seconds)
        assert report.chunks_added == len(texts), (report.chunks_added, len(texts))
    raw, mine = min(raw_times), min(ours)
    print(f"throughput: {docs} files, {len(texts)} chunks")
    print(f"  raw SentenceTransformer.encode: {raw:6.1f} s  ({len(texts) / raw:6.1f} chunks/s)")
    print(f"  ragdesk index (full pipeline):  {mine:6.1f} s  ({len(texts) / mine:6.1f} chunks/s)")
    print(f"  ratio raw/ragdesk = {raw / mine:.3f}  (target >= 0.85)")


def reindex(root: Path, files: int) -> None:
    folder = root / "many"
    folder.mkdir()
    for i in range(files):
        sub = folder / f"dir{i // 500:02}"
        sub.mkdir(exist_ok=True)
        (sub / f"note{i:05}.txt").write_text(f"Note {i}: the keeper logged wind force {i % 12} and {i % 7} ships.")
    home = root / "reindex-home"
    cmd = [sys.executable, "-m", "ragdesk", "--home", str(home), "index", "-q", str(folder)]
    with Timer() as first:
        subprocess.run(cmd, check=True, capture_output=True)
    times = []
    for _ in range(3):
        with Timer() as t:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        times.append(t.seconds)
    assert f"{files} unchanged" in out, out
    print(f"re-index: {files} files (first index {first.seconds:.0f} s)")
    print(f"  unchanged re-index, whole command: best {min(times):.2f} s, worst {max(times):.2f} s  (target < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=800)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-reindex", action="store_true")
    args = parser.parse_args()
    root = scratch_home("index")
    try:
        if not args.skip_throughput:
            throughput(root, args.docs, args.rounds)
        if not args.skip_reindex:
            reindex(root, args.files)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
