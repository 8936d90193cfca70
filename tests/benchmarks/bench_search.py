"""Search latency p50/p95 at 10k and 100k chunks (384-d), and the recall of the fast vector path.

10k: real SciFact chunks with real all-MiniLM-L6-v2 vectors (embedded once, cached).
100k: the 10k plus 90k synthetic chunks (real chunk texts, each copy's ending with a
word of its own so they stay different texts; their vectors moved by noise and
re-normalised), so BM25 and the vector index see realistic sizes.
Latency is end to end through ``KnowledgeStore.search`` (query embedding included),
over SciFact queries; the query-embedding share is printed too. Recall@10 compares
the quantised coarse pass + exact rescoring with exact float KNN on the same queries.
``--sentence-windows`` measures a collection with sentence windows on: the real
chunks' windows embedded once (cached), the copies' moved by the same noise.
Usage: python tests/benchmarks/bench_search.py [--queries 300] [--sentence-windows]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import SCIFACT, Timer, read_jsonl, scratch_home, summary

CACHE = Path(os.environ.get("RAGDESK_BENCH_CACHE", "/tmp/ragdesk-bench-cache"))


def real_chunks(target: int):
    """(doc id, chunks, vectors) for SciFact abstracts until ``target`` chunks, cached on disk."""
    from ragdesk.embedder import Embedder
    from ragdesk.ingest import Chunker, Extracted, Section
    from ragdesk.settings import Settings

    cache = CACHE / f"scifact-{target}.npz"
    settings = Settings()
    embedder = Embedder(settings.embedding_model)
    chunker = Chunker(embedder.tokenizer(), settings.chunk_tokens, settings.chunk_overlap)
    docs = []
    total = 0
    for doc in read_jsonl(SCIFACT / "corpus.jsonl"):
        text = f"{doc['title']}\n\n{doc['text']}"
        chunks = chunker.chunk(Extracted(text, [Section(0, len(text), None, None)], "text"))
        docs.append((doc["_id"], text, chunks))
        total += len(chunks)
        if total >= target:
            break
    if cache.exists():
        vectors = np.load(cache)["vectors"]
    else:
        print(f"embedding {total} chunks once (cached in {cache}) ...", flush=True)
        vectors = embedder.encode([c.text for _, _, cs in docs for c in cs], batch_size=64)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(cache, vectors=vectors)
    return docs, vectors


def real_windows(docs, target: int) -> list[np.ndarray]:
    """Each real chunk's sentence-window vectors, in chunk order, cached on disk."""
    from ragdesk.embedder import Embedder
    from ragdesk.ingest.windows import chunk_windows, per_chunk
    from ragdesk.settings import Settings

    windows = [w for _, text, cs in docs for w in chunk_windows(text, [(c.start, c.end) for c in cs])]
    cache = CACHE / f"scifact-{target}-windows.npz"
    if cache.exists():
        flat = np.load(cache)["vectors"]
    else:
        print(f"embedding {sum(map(len, windows))} windows once (cached in {cache}) ...", flush=True)
        flat = Embedder(Settings().embedding_model).encode([w for ws in windows for w in ws], batch_size=64)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(cache, vectors=flat)
    return per_chunk(flat, windows)


def _moved(vecs: np.ndarray, noise: float, rng) -> np.ndarray:
    vecs = vecs + rng.normal(0, noise, vecs.shape).astype(np.float32)
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)


def fill(store, collection, docs, vectors, *, prefix: str, noise: float, rng, windows=None) -> None:
    from ragdesk import db
    from ragdesk.store import documents

    offset = 0
    with db.transaction(store.conn):
        for doc_id, text, chunks in docs:
            vecs = vectors[offset : offset + len(chunks)]
            wins = windows[offset : offset + len(chunks)] if windows is not None else None
            offset += len(chunks)
            if noise:
                vecs = _moved(vecs, noise, rng)
                wins = [_moved(w, noise, rng) for w in wins] if wins is not None else None
            if noise:
                # A copy's chunks end with a word of their own: 100k different texts, as a real
                # collection has, not ten copies of each (which the search would merge into one hit).
                chunks = [replace(c, text=f"{c.text} {prefix}") for c in chunks]
            documents.write_document(
                store.conn,
                collection,
                documents.PreparedDocument(f"/{prefix}/{doc_id}.txt", "text", len(text), 0, prefix + doc_id, text, chunks),
                np.ascontiguousarray(vecs, dtype=np.float32),
                window_vectors=wins,
            )


def measure(store, queries: list[str], label: str) -> None:
    from ragdesk.store import search as search_mod

    col = store.collection()
    embedder = store.embedder(col.embedding_model)
    for q in queries[:20]:  # warm caches and the model
        store.search(q, k=10, mode="hybrid")
    embed_ms = []
    for q in queries:
        t = time.perf_counter()
        embedder.encode_query(q)
        embed_ms.append((time.perf_counter() - t) * 1000)
    print(f"[{label}] {search_mod.chunk_count(store.conn, col)} chunks")
    print(f"  query embedding only : {summary(embed_ms)}")
    for mode in ("hybrid", "vector", "bm25"):
        times = []
        for q in queries:
            t = time.perf_counter()
            store.search(q, k=10, mode=mode)
            times.append((time.perf_counter() - t) * 1000)
        print(f"  {mode:7} end to end : {summary(times)}")


def recall(store, queries: list[str], label: str) -> None:
    from ragdesk.store import search as search_mod
    from ragdesk.store.bitindex import BitIndex

    col = store.collection()
    embedder = store.embedder(col.embedding_model)
    with Timer() as t:
        mirror = BitIndex.load(store.conn, col)
    print(f"  [{label}] loading the in-memory bit mirror: {t.seconds * 1000:.0f} ms (once per change)")
    vectors = [embedder.encode_query(q) for q in queries]
    exact_ids, times = [], []
    for v in vectors:
        t0 = time.perf_counter()
        exact_ids.append({r.chunk_id for r in search_mod.vector_ranking(store.conn, col, v, 10, exact=True)})
        times.append((time.perf_counter() - t0) * 1000)
    print(f"  [{label}] vector KNN, exact float vec0 MATCH : {summary(times)}")
    for name, bits in (("sqlite-vec bit KNN + rescoring", None), ("in-memory bit mirror + rescoring", mirror)):
        hits, times = [], []
        for v, exact in zip(vectors, exact_ids):
            t0 = time.perf_counter()
            fast = {r.chunk_id for r in search_mod.vector_ranking(store.conn, col, v, 10, exact=False, bits=bits)}
            times.append((time.perf_counter() - t0) * 1000)
            hits.append(len(exact & fast) / 10)
        print(f"  [{label}] {name:33}: {summary(times)}  recall@10 vs exact {np.mean(hits):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--base", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--sentence-windows", action="store_true", help="a collection with sentence windows on")
    args = parser.parse_args()

    from ragdesk.store import KnowledgeStore

    scratch_home("search")
    queries = [q["text"] for q in read_jsonl(SCIFACT / "queries.jsonl")][: args.queries]
    docs, vectors = real_chunks(args.base)
    windows = real_windows(docs, args.base) if args.sentence_windows else None
    rng = np.random.default_rng(0)
    with KnowledgeStore() as store:
        col = store.set_sentence_windows(None, True) if args.sentence_windows else store.ensure_collection()
        with Timer() as t:
            fill(store, col, docs, vectors, prefix="real", noise=0, rng=rng, windows=windows)
        measure(store, queries, f"{len(vectors)} real chunks")
        recall(store, queries, "10k")
        copies = max(0, round(args.large / len(vectors)) - 1)
        with Timer() as t:
            for c in range(copies):
                fill(store, col, docs, vectors, prefix=f"synthetic{c}", noise=0.02, rng=rng, windows=windows)
        print(f"(added {copies} noisy copies in {t.seconds:.0f} s)")
        measure(store, queries, "100k")
        recall(store, queries, "100k")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
