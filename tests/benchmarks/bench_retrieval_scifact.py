"""Retrieval quality on SciFact (BEIR train split): nDCG@10 etc. for vector, BM25 and hybrid.

Writes the corpus as one file per abstract, indexes it with the default settings
(all-MiniLM-L6-v2, token-aware chunks), then evaluates every mode on the train
queries and qrels. Published anchors (BEIR test split): BM25 0.665, all-MiniLM-L6-v2 ~0.645.
With ``--backend compare`` the corpus is indexed twice, once per embedding
engine (PyTorch fp32, int8 ONNX), and the nDCG@10 of each mode is compared
(target: hybrid within 0.005).
A mode may name query-time search options to turn off for it, as in
bench_retrieval_realdocs.py: ``hybrid:fusion`` is hybrid with plain RRF (the fusion
before issue #11), so ``--modes vector,bm25,hybrid,hybrid:fusion`` shows the tuned
fusion's effect side by side on one index.
``--home DIR`` keeps the data folder (and its index) for the next run, and
``--dump-rankings R.json`` saves each mode's top 100 chunks per query for
``fusion_lab.py``, which re-fuses them offline.
``--sentence-windows`` indexes into a collection with sentence windows on (a
database of its own; with ``--home`` an existing default index copied to
``scifact-<backend>-windows.db`` gets only the windows embedded). Each figure is
also given on the two hash halves of the queries (``fusion_lab.scifact_half``):
the fusion was tuned on "tune"; "report" was only reported.
Usage: python tests/benchmarks/bench_retrieval_scifact.py [--limit-docs N] [--json OUT]
       [--backend auto|torch|onnx-int8|compare] [--modes vector,bm25,hybrid[,hybrid:fusion]]
       [--home DIR] [--dump-rankings R.json] [--sentence-windows]
"""

from __future__ import annotations

import argparse
import json

from common import SCIFACT, Timer, dump_hits, kept_home, scratch_home, search_options_off, write_scifact_corpus
from fusion_lab import scifact_half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit-docs", type=int, default=None)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx-int8", "compare"],
                        help="embedding engine (compare: index with PyTorch and int8 ONNX, side by side)")
    parser.add_argument("--modes", default="vector,bm25,hybrid",
                        help="comma-separated; MODE:OPT[+OPT] turns query-time search options off for that mode "
                        "(fusion: plain RRF; identifiers; dedupe)")
    parser.add_argument("--home", help="keep the corpus and index in this folder and reuse them")
    parser.add_argument("--dump-rankings", help="write every mode's top-100 chunks per query (JSON)")
    parser.add_argument("--sentence-windows", action="store_true",
                        help="index with sentence windows on (ragdesk index --sentence-windows)")
    args = parser.parse_args()

    from ragdesk.evaluation import retrieval as metrics
    from ragdesk.settings import Settings
    from ragdesk.store import KnowledgeStore, search_options

    root = kept_home(args.home) if args.home else scratch_home("scifact")
    n = write_scifact_corpus(root / "scifact", args.limit_docs)
    queries = metrics.load_queries(SCIFACT / "queries.jsonl")
    qrels = metrics.load_qrels(SCIFACT / "qrels" / "train.tsv")
    if args.limit_docs:  # keep queries whose relevant documents were all written
        present = {p.stem for p in (root / "scifact").iterdir()}
        qrels = {q: r for q, r in qrels.items() if set(r) <= present}

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    backends = ["torch", "onnx-int8"] if args.backend == "compare" else [args.backend]
    by_backend = {}
    dump: dict[str, dict] = {}
    for name in backends:
        settings = Settings(embedding_backend=name)
        db_name = f"scifact-{name}-windows.db" if args.sentence_windows else f"scifact-{name}.db"
        with KnowledgeStore(root / db_name, settings) as store:
            engine = store.embedder(settings.embedding_model).engine.backend
            with Timer() as t:
                if args.sentence_windows:  # a new collection, or the copied default index: windows on
                    store.set_sentence_windows(None, True)
                report = store.index([root / "scifact"])
            print(f"[{name} -> {engine}] indexed {n} abstracts -> {report.chunks_added} chunks"
                  + (f", windows of {report.windows_filled} earlier chunks" if report.windows_filled else "")
                  + f" in {t.seconds:.0f} s")
            results = {}
            for mode in modes:
                base, _, off = mode.partition(":")  # hybrid:fusion = hybrid with plain RRF
                previous = search_options_off(off.split("+"))

                def ranked(text, base=base, mode=mode):
                    hits = store.search(text, k=300, mode=base)
                    if args.dump_rankings:
                        dump_hits(dump.setdefault(text, {}), mode, hits, metrics.doc_id_for)
                    return metrics.ranked_documents(hits)[:100]

                try:
                    with Timer() as t:
                        per_query = metrics.per_query(queries, qrels, ranked)
                finally:
                    search_options.use(previous)
                scores = metrics.report_of(per_query).total
                halves = {half: metrics.report_of({q: v for q, v in per_query.items() if scifact_half(q) == half})
                          .total.ndcg_at_10 for half in ("tune", "report")}
                results[mode] = {**scores.to_json(), "ndcg@10 tune half": halves["tune"],
                                 "ndcg@10 report half": halves["report"]}
                print(f"{mode:13} nDCG@10 {scores.ndcg_at_10:.4f} (tune {halves['tune']:.4f}, "
                      f"report {halves['report']:.4f})  R@10 {scores.recall_at_10:.4f}  "
                      f"R@100 {scores.recall_at_100:.4f}  MRR@10 {scores.mrr_at_10:.4f}  "
                      f"({scores.queries} queries, {t.seconds:.0f} s)")
        by_backend[name] = results
    if len(by_backend) == 2:
        for mode in [m for m in ("vector", "hybrid") if m in results]:
            delta = by_backend["onnx-int8"][mode]["ndcg@10"] - by_backend["torch"][mode]["ndcg@10"]
            print(f"{mode} nDCG@10 int8 ONNX - PyTorch: {delta:+.4f}" + ("  (target |delta| <= 0.005)" if mode == "hybrid" else ""))
    if {"vector", "bm25", "hybrid"} <= set(results):
        best_single = max(results["vector"]["ndcg@10"], results["bm25"]["ndcg@10"])
        gain = results["hybrid"]["ndcg@10"] - best_single
        print(f"hybrid vs best single mode: {gain:+.4f} nDCG@10 ({gain / best_single:+.1%})")
    if "hybrid" in results and "hybrid:fusion" in results:
        delta = results["hybrid"]["ndcg@10"] - results["hybrid:fusion"]["ndcg@10"]
        print(f"tuned fusion vs plain RRF: {delta:+.4f} nDCG@10 (target hybrid >= 0.74; before issue #11: 0.716)")
    print("anchors (BEIR test split): BM25 0.665, all-MiniLM-L6-v2 ~0.645")
    if args.dump_rankings:  # keyed by query id, as the fusion lab reads it
        by_id = {qid: dump[text] for qid, text in queries.items() if text in dump}
        with open(args.dump_rankings, "w") as fh:
            json.dump(by_id, fh)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"documents": n, "chunks": report.chunks_added, **results,
                       "by_backend": by_backend}, fh, indent=2)


if __name__ == "__main__":
    main()
