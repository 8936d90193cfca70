"""Retrieval quality on real documentation, per query category: BM25, vector, hybrid (and reranked).

Builds the dev set with ``build_realdocs_devset.py`` (or the held-out set with
``--heldout``), indexes its corpus with the default settings, then scores every
mode on the dev half and the test half separately (tune on dev, report test;
the held-out set is reported whole).
Per category: MRR@10, hit@1, nDCG@10, Recall@10, Recall@100, and whether hybrid
is at least as good as the better single retriever.

Vectors are cached by chunk text in WORK/embeddings.sqlite, so a later run whose
chunking changed only part of the text (an ablation, a new extractor) re-embeds
only the chunks that changed; the index itself is rebuilt each run in a scratch
folder unless ``--home`` names one to keep and reuse.

Usage: python tests/benchmarks/bench_retrieval_realdocs.py [--work DIR] [--heldout]
       [--modes bm25,vector,hybrid[,hybrid+rerank]] [--reranker NAME|DIR] [--json OUT]
       [--dump-rankings OUT] [--off OPTIONS] [--sentence-windows]

A mode may name query-time search options to turn off for it (the ablation):
``hybrid:fusion`` (plain RRF), ``hybrid:identifiers``, ``hybrid:dedupe``; ``--off``
turns options off for the whole run, indexing included: ``titles`` (title and
heading columns unweighted, no embedded title prefix), ``chrome`` (page chrome
kept), ``identifiers`` (no identifier forms indexed or asked for). Give each
``--off`` run its own ``--home``: the index is built under those settings.
``--sentence-windows`` indexes into a collection with sentence windows on (give
it its own ``--home`` too, or an index to add the windows to).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_realdocs_devset import DEFAULT_WORK, build  # noqa: E402
from common import Timer, dump_hits, scratch_home, search_options_off  # noqa: E402

METRICS = (("mrr@10", "MRR@10"), ("hit@1", "hit@1"), ("ndcg@10", "nDCG@10"), ("recall@10", "R@10"),
           ("recall@100", "R@100"))


class CachedEmbedder:
    """An Embedder whose passage vectors are looked up by text first (same model, same vector)."""

    def __init__(self, inner, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.db = sqlite3.connect(str(path))
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
        self.hits = self.misses = 0

    def __getattr__(self, attr):  # dimension, max_tokens, tokenizer, encode_query, model
        return getattr(self.inner, attr)

    def _key(self, text: str) -> bytes:
        return hashlib.sha1(f"{self.name}\0{text}".encode()).digest()

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            sql = f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})"
            found.update(self.db.execute(sql, part).fetchall())
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.encode([texts[i] for i in missing], batch_size=batch_size)
            rows = [(keys[i], v.astype(np.float32).tobytes()) for i, v in zip(missing, fresh)]
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self.db.commit()
            found.update(rows)
        return np.stack([np.frombuffer(found[k], dtype=np.float32) for k in keys])


def open_store(cache: Path):
    from ragdesk.store import KnowledgeStore

    class CachedStore(KnowledgeStore):
        def embedder(self, model: str):
            if model not in self._embedders:
                self._embedders[model] = CachedEmbedder(super().embedder(model), cache)
            return self._embedders[model]

    return CachedStore()


def switch_off(names: str):
    """Turn off the query-time search options named (comma-separated); the previous options, or None.

    ``identifiers`` (query side only: the index keeps its forms), ``dedupe``,
    ``fusion`` (plain RRF). Index-time switches need their own index (``--off``).
    """
    if not names:
        return None
    return search_options_off(names.split(","))


# Index-time switches are ingestion settings: ``titles`` off also drops the
# embedded "title - heading path" prefix, ``chrome`` off keeps page chrome.
INGESTION_OFF = {"titles": {"chunk_context": False}, "chrome": {"drop_page_chrome": False}}


def ingestion_off(names: str) -> None:
    """Save the ingestion settings that ``--off`` names into the data folder's settings."""
    changes = {k: v for n in names.split(",") for k, v in INGESTION_OFF.get(n, {}).items()}
    if changes:
        from ragdesk.settings import Settings

        settings = Settings.load()
        for key, value in changes.items():
            setattr(settings, key, value)
        settings.save()


def run_modes(store, modes, queries, qrels, dump: dict | None) -> dict:
    """Per-query metrics and latency of each mode (``hybrid+rerank``: hybrid, then the reranker)."""
    from ragdesk.evaluation import retrieval as metrics

    ids = metrics.DocumentIds(qrels)
    results = {}
    for mode in modes:
        mode_spec, _, switched_off = mode.partition(":")  # hybrid:fusion,dedupe = hybrid with those off
        base, _, extra = mode_spec.partition("+")
        options = {"rerank": True} if extra == "rerank" else {}  # plain modes run on code without a reranker too
        per_query, latencies = {}, []
        previous = switch_off(switched_off)
        for qid in (q for q in queries if q in qrels):
            start = time.perf_counter()
            hits = store.search(queries[qid], k=300, mode=base, **options)
            latencies.append((time.perf_counter() - start) * 1000)
            per_query[qid] = metrics.query_metrics(metrics.ranked_documents(hits, ids)[:100], qrels[qid])
            if dump is not None:
                dump_hits(dump.setdefault(qid, {}), mode, hits, ids)
        if previous is not None:
            from ragdesk.store import search_options

            search_options.use(previous)
        latencies.sort()
        p50 = latencies[len(latencies) // 2] if latencies else 0.0
        results[mode] = {"per_query": per_query, "p50_ms": p50}
        print(f"  {mode:14} {len(per_query)} queries, p50 {p50:.1f} ms", flush=True)
    return results


def table(split: str, results: dict, qrels: dict) -> dict:
    """Print one split's per-category table; return its JSON form."""
    from ragdesk.evaluation import retrieval as metrics

    modes = list(results)
    reports = {m: metrics.report_of({q: v for q, v in results[m]["per_query"].items() if q in qrels})
               for m in modes}
    categories = list(next(iter(reports.values())).categories) + ["all"]
    print(f"\n== {split} ==")
    header = f"{'category':10} {'n':>4} {'mode':14}" + "".join(f"{title:>9}" for _, title in METRICS)
    print(header)
    out = {}
    for category in categories:
        rows = {m: (reports[m].total if category == "all" else reports[m].categories[category]).to_json()
                for m in modes}
        for m in modes:
            cells = "".join(f"{rows[m][key]:9.3f}" for key, _ in METRICS)
            print(f"{category:10} {rows[m]['queries']:>4} {m:14}{cells}")
        singles = [m for m in ("bm25", "vector") if m in rows]
        if "hybrid" in rows and singles:
            best = max(rows[m]["mrr@10"] for m in singles)
            gap = rows["hybrid"]["mrr@10"] - best
            print(f"{'':10} {'':>4} hybrid - best single MRR@10: {gap:+.3f} {'ok' if gap >= 0 else 'WORSE'}")
        out[category] = rows
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--heldout", action="store_true", help="the held-out check set (report only)")
    parser.add_argument("--with-print", action="store_true", help="the dev set with the book's print.html")
    parser.add_argument("--modes", default="bm25,vector,hybrid")
    parser.add_argument("--reranker", help="installed reranker name or folder (for +rerank modes)")
    parser.add_argument("--home", type=Path, help="keep the index in this data folder and reuse it")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--dump-rankings", type=Path, help="write every mode's top-100 chunks per query (JSON)")
    parser.add_argument("--off", default="", help="search options off for the whole run, index included "
                        "(comma-separated: titles, identifiers, dedupe, chrome, fusion)")
    parser.add_argument("--sentence-windows", action="store_true", help="a collection with sentence windows on")
    args = parser.parse_args()
    switch_off(args.off)

    folder = build(args.work, heldout=args.heldout, with_print=args.with_print)
    if args.home:
        import os

        from ragdesk import paths

        args.home.mkdir(parents=True, exist_ok=True)
        os.environ[paths.ENV_HOME] = str(args.home)
        paths.set_home(None)
    else:
        scratch_home("realdocs")
    from ragdesk.evaluation import retrieval as metrics
    from ragdesk.settings import Settings

    ingestion_off(args.off)
    if args.reranker:
        settings = Settings.load()
        settings.reranker = args.reranker
        settings.save()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    queries = metrics.load_queries(folder / "queries.jsonl")
    # The held-out set is never tuned on: it has no dev half worth a separate table.
    names = ("all",) if args.heldout else ("dev", "test")
    splits = {name: metrics.load_qrels(folder / "qrels" / f"{name}.tsv") for name in names}
    every = {q: r for split in splits.values() for q, r in split.items()}
    store = open_store(args.work / "embeddings.sqlite")
    with store:
        with Timer() as t:
            if args.sentence_windows:
                store.set_sentence_windows(None, True)
            report = store.index([folder / "corpus"])
        embedder = store.embedder(store.collection().embedding_model)
        chunks = store.chunk_count()
        print(f"indexed {report.added + report.updated} documents (+{report.unchanged} unchanged) -> "
              f"{chunks} chunks in {t.seconds:.0f} s; vectors from cache {embedder.hits}, "
              f"embedded {embedder.misses}; skipped {len(report.skipped)}")
        dump = {} if args.dump_rankings else None
        results = run_modes(store, modes, queries, every, dump)
    figures = {"set": folder.name, "documents": report.added + report.updated + report.unchanged,
               "chunks": chunks, "index_s": round(t.seconds, 1),
               "latency_p50_ms": {m: round(r["p50_ms"], 2) for m, r in results.items()}}
    for name in names:
        figures[name] = table(name, results, splits[name])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    if args.dump_rankings:
        args.dump_rankings.write_text(json.dumps(dump), encoding="utf-8")


if __name__ == "__main__":
    main()
