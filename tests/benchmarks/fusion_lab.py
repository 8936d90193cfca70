"""Choose the hybrid fusion offline, on rankings dumped by the retrieval benchmarks.

``bench_retrieval_realdocs.py --dump-rankings R.json`` and
``bench_retrieval_scifact.py --dump-rankings S.json`` save, per query, the top
100 chunks of BM25 and of vector search (document id, chunk id, score, cosine).
This script re-fuses them with ragdesk's own ``fusion.fuse`` under a grid of
rules (reciprocal-rank fusion with several constants and weights, and a convex
combination of scores scaled by each list's best) and chooses on the tuning
halves only:

* real documents, dev half: hybrid must be at least as good as the better of
  BM25 and vector in every category (MRR@10), and put the page first on at
  least 90% of identifier questions;
* SciFact train queries, split by a hash of their id: the ``tune`` half.

Among the rules meeting the first condition, the one with the best sum of
dev MRR@10 and SciFact-tune nDCG@10 wins. The real-documents test half, the
SciFact ``report`` half and the held-out dump (``--heldout H.json``) are printed
for the chosen rule only, never used to choose. Lists are 100 deep, so figures
can differ a little from a live search (which fuses deeper lists).

Run it on dumps of default collections to choose ``fusion.TUNED``, and on dumps
of collections with sentence windows (the benchmarks' ``--sentence-windows``)
to choose ``fusion.WINDOWS_TUNED``.

Usage: python tests/benchmarks/fusion_lab.py --realdocs R.json --scifact S.json
       [--heldout H.json] [--work DIR] [--top N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_realdocs_devset import DEFAULT_WORK, stable_hash  # noqa: E402
from common import SCIFACT  # noqa: E402

Dumped = list[list]  # [doc id, chunk id, score, similarity]


def scifact_half(query_id: str) -> str:
    """tune or report, by a stable hash of the SciFact query id (about half each)."""
    return "tune" if stable_hash("scifact:" + query_id) % 2 == 0 else "report"


def fused_documents(rule, query: str, bm25: Dumped, vector: Dumped, bm25_title: str | None = None) -> list[str]:
    """Documents in the order ragdesk's fusion under ``rule`` ranks their best chunk.

    ``bm25_title``: the title of BM25's first hit's document, for the title
    guard (dumps made before it have none: the guard then never fires).
    """
    from ragdesk.store import fusion
    from ragdesk.store.search import Ranked, query_names_title

    if rule == "bm25":
        return list(dict.fromkeys(d for d, *_ in bm25))
    if rule == "vector":
        return list(dict.fromkeys(d for d, *_ in vector))
    doc_of = {chunk: doc for doc, chunk, _, _ in [*bm25, *vector]}
    fused = fusion.fuse([Ranked(c, s, sim) for _, c, s, sim in vector],
                        [Ranked(c, s, sim) for _, c, s, sim in bm25], query, 200, rule,
                        title_named=query_names_title(query, bm25_title))
    return list(dict.fromkeys(doc_of[r.chunk_id] for r in fused))


def candidate_rules() -> dict[str, object]:
    from dataclasses import replace

    from ragdesk.store.fusion import PLAIN_RRF, TUNED, WINDOWS_TUNED, FusionRule

    # "shipped" fuses collections without sentence windows, "shipped (windows)" those with them.
    rules: dict[str, object] = {"bm25": "bm25", "vector": "vector", "plain rrf k=60": PLAIN_RRF, "shipped": TUNED,
                                "shipped (windows)": WINDOWS_TUNED,
                                "shipped, no title guard": replace(TUNED, title_guard=False),
                                "shipped (windows), no title guard": replace(WINDOWS_TUNED, title_guard=False)}
    # Every rule of the grid keeps the title guard (a page the query names by its title stays first).
    for k in (5, 10, 20, 30, 60):
        for w in (0.3, 0.5, 0.7, 0.85, 1.0, 1.2, 1.5):
            for wi in (3.0, 5.0, 10.0):
                rules[f"rrf k={k} w_bm25={w} ident={wi}"] = FusionRule(
                    rrf_k=k, w_bm25=w, ident_w_bm25=wi, title_guard=True)
    for k in (5, 10, 20):
        for w in (0.5, 0.7, 0.85, 1.0):
            for guard in (1.1, 1.2, 1.3, 1.5, 2.0):
                rules[f"rrf k={k} w_bm25={w} ident=3.0 guard={guard}"] = FusionRule(
                    rrf_k=k, w_bm25=w, ident_w_bm25=3.0, guard=guard, title_guard=True)
    for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2):
        for wi in (1.0, 2.0, 3.0, 5.0):
            rules[f"convex w_bm25={w} ident={wi}"] = FusionRule(
                method="convex", w_bm25=w, ident_w_bm25=wi * w, title_guard=True)
    return rules


def evaluate(rule, dump: dict, queries: dict[str, str], qrels: dict[str, dict[str, int]]):
    from ragdesk.evaluation import retrieval as metrics

    per_query = {}
    for qid, relevant in qrels.items():
        if qid in dump:
            ranking = fused_documents(rule, queries[qid], dump[qid]["bm25"], dump[qid]["vector"],
                                      dump[qid].get("bm25_title"))
            per_query[qid] = metrics.query_metrics(ranking[:100], relevant)
    return metrics.report_of(per_query)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdocs", type=Path, required=True, help="rankings dumped on the dev set")
    parser.add_argument("--scifact", type=Path, required=True, help="rankings dumped on SciFact train")
    parser.add_argument("--heldout", type=Path, help="rankings dumped on the held-out set (reported only)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--top", type=int, default=12, help="rules to show")
    args = parser.parse_args()

    from ragdesk.evaluation import retrieval as metrics

    dev_folder = args.work / "devset"
    real = json.loads(args.realdocs.read_text(encoding="utf-8"))
    real_queries = metrics.load_queries(dev_folder / "queries.jsonl")
    real_splits = {s: metrics.load_qrels(dev_folder / "qrels" / f"{s}.tsv") for s in ("dev", "test")}
    sci = json.loads(args.scifact.read_text(encoding="utf-8"))
    sci_queries = metrics.load_queries(SCIFACT / "queries.jsonl")
    sci_all = {q: r for q, r in metrics.load_qrels(SCIFACT / "qrels" / "train.tsv").items() if q in sci}
    sci_splits = {h: {q: r for q, r in sci_all.items() if scifact_half(q) == h} for h in ("tune", "report")}

    rules = candidate_rules()
    dev = {name: evaluate(rule, real, real_queries, real_splits["dev"]) for name, rule in rules.items()}
    tune = {name: evaluate(rule, sci, sci_queries, sci_splits["tune"]).total for name, rule in rules.items()}
    categories = list(dev["bm25"].categories)

    def worst_gap(name: str) -> float:
        return min(dev[name].categories[c].mrr_at_10
                   - max(dev[s].categories[c].mrr_at_10 for s in ("bm25", "vector")) for c in categories)

    def ident_hit1(name: str) -> float:
        return dev[name].categories["ident"].hit_at_1 if "ident" in categories else 1.0

    def objective(name: str) -> float:
        return dev[name].total.mrr_at_10 + tune[name].ndcg_at_10

    feasible = [n for n in rules if n not in ("bm25", "vector") and worst_gap(n) >= 0 and ident_hit1(n) >= 0.9]
    order = sorted(feasible, key=lambda n: -objective(n))
    others = sorted((n for n in rules if n not in feasible and n not in ("bm25", "vector")), key=lambda n: -objective(n))
    print(f"{len(feasible)} of {len(rules) - 2} rules never lose to the better single list on the dev categories\n")
    head = f"{'rule':34}" + "".join(f"{c:>9}" for c in categories) + f"{'dev all':>9}{'gap':>8}{'id@1':>7}{'sci tune':>10}"
    print("real docs dev MRR@10 per category, SciFact tune nDCG@10")
    print(head)
    shipped = ["shipped", "shipped, no title guard", "shipped (windows)", "shipped (windows), no title guard"]
    shown = ["bm25", "vector", "plain rrf k=60", *shipped, *order[: args.top], *others[:3]]
    for name in dict.fromkeys(shown):
        cells = "".join(f"{dev[name].categories[c].mrr_at_10:9.3f}" for c in categories)
        mark = "" if name in feasible or name in ("bm25", "vector") else "  (loses on dev)"
        print(f"{name:34}{cells}{dev[name].total.mrr_at_10:9.3f}{worst_gap(name):+8.3f}"
              f"{ident_hit1(name):7.3f}{tune[name].ndcg_at_10:10.4f}{mark}")
    if not order:
        print("no rule meets the dev conditions")
        return
    best = order[0]
    print(f"\nchosen on the tuning halves: {best}")
    for label, report in (
        ("real docs test", evaluate(rules[best], real, real_queries, real_splits["test"])),
        ("SciFact report half", evaluate(rules[best], sci, sci_queries, sci_splits["report"])),
        ("SciFact all train", evaluate(rules[best], sci, sci_queries, sci_all)),
    ):
        cats = ", ".join(f"{c} {s.mrr_at_10:.3f}" for c, s in report.categories.items())
        print(f"  {label:20} nDCG@10 {report.total.ndcg_at_10:.4f}  MRR@10 {report.total.mrr_at_10:.3f}"
              + (f"  ({cats})" if cats else ""))
    for label, split in (("SciFact report half", sci_splits["report"]), ("SciFact all train", sci_all)):
        row = {n: evaluate(rules[n], sci, sci_queries, split).total.ndcg_at_10 for n in ("bm25", "vector", "shipped", best)}
        print(f"  {label}: nDCG@10 " + ", ".join(f"{n} {v:.4f}" for n, v in row.items()))
    if args.heldout:
        held = json.loads(args.heldout.read_text(encoding="utf-8"))
        folder = args.work / "heldout"
        hq = metrics.load_queries(folder / "queries.jsonl")
        hr = metrics.load_qrels(folder / "qrels" / "all.tsv")
        for name in ("bm25", "vector", "shipped", best):
            report = evaluate(rules[name], held, hq, hr)
            cats = ", ".join(f"{c} {s.mrr_at_10:.3f}/{s.hit_at_1:.3f}" for c, s in report.categories.items())
            print(f"  held-out {name:30} MRR@10 {report.total.mrr_at_10:.3f}  ({cats})")


if __name__ == "__main__":
    main()
