"""Try fusions of BM25 and vector rankings offline, on rankings dumped by ``bench_retrieval_realdocs.py``.

``bench_retrieval_realdocs.py --dump-rankings R.json`` saves, per query, each
mode's top-100 chunks (document id, chunk id, score, cosine similarity). This
script re-fuses the ``bm25`` and ``vector`` lists with candidate rules and
scores them per category on the dev half only (the test half is printed for
the chosen rule, never used to choose). Lists are 100 deep, so figures can
differ a little from a live search; the ``rrf k=60`` row shows by how much
(it is what hybrid search does today).

Usage: python tests/benchmarks/realdocs_fusion_lab.py R.json [--work DIR] [--top N]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_realdocs_devset import DEFAULT_WORK  # noqa: E402

Ranked = list[tuple[str, int, float, float | None]]  # (doc id, chunk id, score, similarity)
Fusion = Callable[[Ranked, Ranked], list[str]]  # -> document ids, best first
# A token a person types only when naming something: snake_case, digits in a word,
# paths like a::b, CamelCase with two humps (CMAKE_BUILD_TYPE, CMP0077, std::mem::swap, FindBoost).
IDENTIFIER = re.compile(r"\b(?=\w*[A-Za-z])\w*(?:_|\d)\w*\b|\w+::\w+|\b[A-Z]?[a-z]+[A-Z][A-Za-z]*[A-Z]?\w*\b")


def has_identifier(query: str) -> bool:
    return IDENTIFIER.search(query) is not None


def documents(chunks: list[tuple[str, int]]) -> list[str]:
    """Chunk (doc, id) pairs in fused order -> documents in the order of their best chunk."""
    return list(dict.fromkeys(doc for doc, _ in chunks))


def rrf(k: float = 60, w_bm25: float = 1.0, w_vector: float = 1.0) -> Fusion:
    """Weighted reciprocal-rank fusion: each list adds w / (k + rank)."""
    def fuse(bm25: Ranked, vector: Ranked) -> list[str]:
        scores: dict[tuple[str, int], float] = {}
        for weight, ranking in ((w_bm25, bm25), (w_vector, vector)):
            for rank, (doc, chunk, _, _) in enumerate(ranking, start=1):
                scores[(doc, chunk)] = scores.get((doc, chunk), 0.0) + weight / (k + rank)
        return documents(sorted(scores, key=lambda c: (-scores[c], c[1])))
    return fuse


def _minmax(ranking: Ranked) -> dict[tuple[str, int], float]:
    if not ranking:
        return {}
    values = [score for _, _, score, _ in ranking]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return {(doc, chunk): (score - low) / span for doc, chunk, score, _ in ranking}


def combsum(alpha: float) -> Fusion:
    """alpha x min-max-normalised BM25 + (1 - alpha) x min-max-normalised cosine (missing = 0)."""
    def fuse(bm25: Ranked, vector: Ranked) -> list[str]:
        b, v = _minmax(bm25), _minmax(vector)
        scores = {c: alpha * b.get(c, 0.0) + (1 - alpha) * v.get(c, 0.0) for c in {*b, *v}}
        return documents(sorted(scores, key=lambda c: (-scores[c], c[1])))
    return fuse


def guarded(base: Fusion, margin: float) -> Fusion:
    """``base``, but BM25's first document stays first when its score beats BM25's second by ``margin`` x."""
    def fuse(bm25: Ranked, vector: Ranked) -> list[str]:
        ranking = base(bm25, vector)
        if len(bm25) >= 2 and bm25[1][2] > 0 and bm25[0][2] >= margin * bm25[1][2]:
            top = bm25[0][0]
            ranking = [top] + [d for d in ranking if d != top]
        return ranking
    return fuse


CANDIDATES: dict[str, Fusion] = {
    "bm25 only": lambda b, v: documents([(d, c) for d, c, _, _ in b]),
    "vector only": lambda b, v: documents([(d, c) for d, c, _, _ in v]),
    "rrf k=60": rrf(60),
    **{f"rrf k={k} w_bm25={w}": rrf(k, w) for k in (10, 30, 60) for w in (1.5, 2.0, 3.0)},
    **{f"combsum a={a}": combsum(a) for a in (0.3, 0.4, 0.5, 0.6, 0.7)},
    **{f"rrf k=60 + guard {m}": guarded(rrf(60), m) for m in (1.2, 1.5, 2.0)},
    **{f"combsum a=0.5 + guard {m}": guarded(combsum(0.5), m) for m in (1.2, 1.5)},
}
# Rules that look at the query: identifier questions lean on BM25, the others fuse evenly.
QUERY_AWARE: dict[str, tuple[Fusion, Fusion]] = {
    "ident? bm25 : rrf k=60": (CANDIDATES["bm25 only"], rrf(60)),
    "ident? combsum .9 : .5": (combsum(0.9), combsum(0.5)),
    "ident? combsum .8 : .5": (combsum(0.8), combsum(0.5)),
    "ident? combsum .8 : .4": (combsum(0.8), combsum(0.4)),
    "ident? rrf k=10 w3 : k=60": (rrf(10, 3.0), rrf(60)),
    "ident? combsum .8 : rrf60": (combsum(0.8), rrf(60)),
}


def production(rule) -> Fusion:
    """ragdesk's own fusion (ragdesk.store.fusion) under ``rule``; needs the query, set per query by main()."""
    def fuse(bm25: Ranked, vector: Ranked) -> list[str]:
        from ragdesk.store import fusion
        from ragdesk.store.search import Ranked as R

        doc_of = {chunk: doc for doc, chunk, _, _ in [*bm25, *vector]}
        fused = fusion.fuse([R(c, s, sim) for _, c, s, sim in vector], [R(c, s, sim) for _, c, s, sim in bm25],
                            _QUERY[0], 100, rule)
        return documents([(doc_of[r.chunk_id], r.chunk_id) for r in fused])
    return fuse


_QUERY = [""]  # the query being fused (production rules look at it)


def production_rules() -> dict[str, Fusion]:
    from ragdesk.store.fusion import FusionRule

    rules = {}
    for k in (10, 30, 60):
        for wi in (1.0, 2.0, 3.0, 5.0):
            for guard in (None, 1.2, 1.5, 2.0):
                rule = FusionRule(rrf_k=k, ident_w_bm25=wi, guard=guard)
                rules[f"ragdesk k={k} ident_w={wi} guard={guard}"] = production(rule)
    for ki in (10, 30, 60):  # identifier queries get their own RRF constant
        for wi in (3.0, 5.0, 10.0, 100.0):
            for guard in (None, 1.5):
                rule = FusionRule(rrf_k=60, ident_rrf_k=ki, ident_w_bm25=wi, guard=guard)
                rules[f"ragdesk k=60 ident k={ki} w={wi} g={guard}"] = production(rule)
    return rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rankings", type=Path)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--set", default="devset", help="folder under --work holding queries and qrels")
    parser.add_argument("--top", type=int, default=8, help="rules to show per table")
    args = parser.parse_args()

    from ragdesk.evaluation import retrieval as metrics

    dump = json.loads(args.rankings.read_text(encoding="utf-8"))
    folder = args.work / args.set
    splits = {name: metrics.load_qrels(folder / "qrels" / f"{name}.tsv") for name in ("dev", "test")}
    texts = metrics.load_queries(folder / "queries.jsonl")
    rules = {name: (fuse, fuse) for name, fuse in {**CANDIDATES, **production_rules()}.items()} | QUERY_AWARE
    reports = {}
    for name, (if_ident, otherwise) in rules.items():
        per_split = {}
        for split, qrels in splits.items():
            per_query = {}
            for qid in (q for q in qrels if q in dump):
                fuse = if_ident if has_identifier(texts[qid]) else otherwise
                _QUERY[0] = texts[qid]
                per_query[qid] = metrics.query_metrics(fuse(dump[qid]["bm25"], dump[qid]["vector"])[:100], qrels[qid])
            per_split[split] = metrics.report_of(per_query)
        reports[name] = per_split
    dev = {name: r["dev"] for name, r in reports.items()}
    categories = list(next(iter(dev.values())).categories)
    print("dev half, MRR@10 per category (rules sorted by their worst gap to the better single list)")
    singles = ("bm25 only", "vector only")

    def worst_gap(name: str) -> float:
        rows = [(dev[name].categories[c], [dev[s].categories[c] for s in singles]) for c in categories]
        return min(row.mrr_at_10 - max(s.mrr_at_10 for s in best) for row, best in rows)

    order = sorted(rules, key=lambda n: (-worst_gap(n), -dev[n].total.mrr_at_10))
    print(f"{'rule':28}" + "".join(f"{c:>10}" for c in [*categories, "all"]) + f"{'worst gap':>11}")
    for name in [*singles, "rrf k=60", *[n for n in order if n not in (*singles, "rrf k=60")][: args.top]]:
        cells = "".join(f"{dev[name].categories[c].mrr_at_10:10.3f}" for c in categories)
        print(f"{name:28}{cells}{dev[name].total.mrr_at_10:10.3f}{worst_gap(name):+11.3f}")
    best = next(n for n in order if n not in singles)
    test = reports[best]["test"]
    print(f"\nchosen on dev: {best}; its test half: MRR@10 {test.total.mrr_at_10:.3f}, "
          + ", ".join(f"{c} {s.mrr_at_10:.3f}" for c, s in test.categories.items()))


if __name__ == "__main__":
    main()
