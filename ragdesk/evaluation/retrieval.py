"""Retrieval metrics over BEIR-format queries and qrels.

A document's id is its file name without extension, so a folder of
``<doc_id>.txt`` files evaluates directly against BEIR qrels. Chunk hits are
collapsed to documents (a document ranks where its best chunk ranks).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ragdesk.records import Hit, doc_id_for


@dataclass(frozen=True)
class RetrievalScores:
    queries: int
    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float

    def to_json(self) -> dict:
        return {
            "queries": self.queries,
            "ndcg@10": round(self.ndcg_at_10, 4),
            "recall@10": round(self.recall_at_10, 4),
            "recall@100": round(self.recall_at_100, 4),
            "mrr@10": round(self.mrr_at_10, 4),
        }


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


def ranked_documents(hits: Iterable[Hit]) -> list[str]:
    """Document ids in the order of their best chunk."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(doc_id_for(hit.path), None)
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


def evaluate(
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    search: Callable[[str], list[str]],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RetrievalScores:
    """Score ``search`` (query text -> ranked document ids) on every query that has qrels."""
    ids = [q for q in queries if q in qrels]
    totals = [0.0, 0.0, 0.0, 0.0]
    for n, qid in enumerate(ids, start=1):
        ranking = search(queries[qid])
        relevant = qrels[qid]
        totals[0] += ndcg_at(ranking, relevant, 10)
        totals[1] += recall_at(ranking, relevant, 10)
        totals[2] += recall_at(ranking, relevant, 100)
        totals[3] += mrr_at(ranking, relevant, 10)
        if progress:
            progress(n, len(ids))
    count = max(len(ids), 1)
    return RetrievalScores(len(ids), *(t / count for t in totals))
