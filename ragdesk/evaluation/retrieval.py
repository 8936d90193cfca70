"""Retrieval metrics over BEIR-format queries and qrels, in total and per query category.

A document's id is its file name without extension, so a folder of
``<doc_id>.txt`` files evaluates directly against BEIR qrels. Qrels may instead
name documents by a relative path (``cmake/variable/CMAKE_BUILD_TYPE.rst``):
when any id contains a slash, a hit's document is the qrels id its path ends
with (or its whole path when none matches), so same-named files in different
folders stay apart. Chunk hits are collapsed to documents (a document ranks
where its best chunk ranks).

A query id of the form ``CATEGORY-...`` (``ident-cmake-3``) puts the query in
that category; categories get their own scores next to the total.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ragdesk.records import Hit, doc_id_for


@dataclass(frozen=True)
class RetrievalScores:
    """Mean metrics over ``queries`` queries."""

    queries: int
    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    hit_at_1: float = 0.0

    def to_json(self) -> dict:
        """The stable ``--json`` form (keys may be added, none renamed)."""
        return {
            "queries": self.queries,
            "ndcg@10": round(self.ndcg_at_10, 4),
            "recall@10": round(self.recall_at_10, 4),
            "recall@100": round(self.recall_at_100, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "hit@1": round(self.hit_at_1, 4),
        }

    @classmethod
    def mean_of(cls, per_query: list[tuple[float, ...]]) -> RetrievalScores:
        """Average ``query_metrics`` tuples."""
        if not per_query:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return cls(len(per_query), *(sum(column) / len(per_query) for column in zip(*per_query)))


@dataclass(frozen=True)
class RetrievalReport:
    """Scores over all queries and per query category (``CATEGORY-...`` ids), categories sorted by name."""

    total: RetrievalScores
    categories: dict[str, RetrievalScores]

    def to_json(self) -> dict:
        return {**self.total.to_json(), "categories": {c: s.to_json() for c, s in self.categories.items()}}


def load_queries(path: str | Path) -> dict[str, str]:
    """BEIR ``queries.jsonl``: ``{"_id", "text"}`` per line."""
    queries = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                queries[str(obj["_id"])] = obj["text"]
    return queries


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (``query-id  corpus-id  score``, header optional)."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split("\t")
            if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
                continue  # header or blank
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def category_of(query_id: str) -> str | None:
    """``ident-cmake-3`` -> ``ident``; None for ids without a textual ``CATEGORY-`` prefix (BEIR's numbers)."""
    prefix, dash, _ = query_id.partition("-")
    return prefix if dash and prefix and not prefix.isdigit() else None


class DocumentIds:
    """Maps a hit's path to the id the qrels use for its document (see the module docstring)."""

    def __init__(self, qrels: dict[str, dict[str, int]] | None = None) -> None:
        self.known = {doc for relevant in (qrels or {}).values() for doc in relevant}
        self.by_path = any("/" in doc for doc in self.known)

    def __call__(self, path: str) -> str:
        if not self.by_path:
            return doc_id_for(path)
        path = path.replace("\\", "/")
        cut = path.find("/")
        while cut >= 0:  # longest suffix first: a/b/c.html, then b/c.html, then c.html
            if path[cut + 1 :] in self.known:
                return path[cut + 1 :]
            cut = path.find("/", cut + 1)
        return path


def ranked_documents(hits: Iterable[Hit], ids: Callable[[str], str] = doc_id_for) -> list[str]:
    """Document ids (``ids`` of each hit's path) in the order of their best chunk."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(ids(hit.path), None)
    return list(seen)


def ndcg_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    dcg = sum(
        (2 ** relevant.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranking[:k])
    )
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    positives = {d for d, g in relevant.items() if g > 0}
    if not positives:
        return 0.0
    return len(positives & set(ranking[:k])) / len(positives)


def mrr_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    for i, doc in enumerate(ranking[:k]):
        if relevant.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def query_metrics(ranking: list[str], relevant: dict[str, int]) -> tuple[float, float, float, float, float]:
    """(nDCG@10, Recall@10, Recall@100, MRR@10, hit@1) of one ranking, in ``RetrievalScores`` order."""
    return (ndcg_at(ranking, relevant, 10), recall_at(ranking, relevant, 10), recall_at(ranking, relevant, 100),
            mrr_at(ranking, relevant, 10), 1.0 if mrr_at(ranking, relevant, 1) > 0 else 0.0)


def per_query(
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    search: Callable[[str], list[str]],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, tuple[float, ...]]:
    """``query_metrics`` of ``search`` (query text -> ranked document ids) for every query that has qrels."""
    ids = [q for q in queries if q in qrels]
    out = {}
    for n, qid in enumerate(ids, start=1):
        out[qid] = query_metrics(search(queries[qid]), qrels[qid])
        if progress:
            progress(n, len(ids))
    return out


def report_of(metrics: dict[str, tuple[float, ...]]) -> RetrievalReport:
    """Total and per-category means of per-query metrics."""
    groups: dict[str, list[tuple[float, ...]]] = {}
    for qid, values in metrics.items():
        category = category_of(qid)
        if category is not None:
            groups.setdefault(category, []).append(values)
    return RetrievalReport(RetrievalScores.mean_of(list(metrics.values())),
                           {c: RetrievalScores.mean_of(groups[c]) for c in sorted(groups)})


def evaluate(
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    search: Callable[[str], list[str]],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RetrievalScores:
    """Score ``search`` (query text -> ranked document ids) on every query that has qrels."""
    return evaluate_by_category(queries, qrels, search, progress=progress).total


def evaluate_by_category(
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    search: Callable[[str], list[str]],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RetrievalReport:
    """Like :func:`evaluate`, with the scores of each query category too."""
    return report_of(per_query(queries, qrels, search, progress=progress))
