"""Fusing the BM25 and vector rankings of a hybrid search.

Plain reciprocal-rank fusion (RRF, k=60) lets the vector list outvote an exact
lexical match: on real documentation it put the page titled ``E0382`` fifth
for "What does Rust error E0382 mean?", where BM25 alone had it first. The
rule here was chosen on the dev half of the real-documents set
(``tests/benchmarks/realdocs_fusion_lab.py``; figures in README) and checked
on its test half, the held-out set and SciFact without retuning:

* weighted RRF, with BM25 weighted up when the query names an identifier
  (``identifiers.identifiers``: codes and names are what BM25 finds and a
  sentence embedding blurs);
* a guard: when BM25's best chunk scores well above its second (a rare exact
  match), it stays first whatever the vector list says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragdesk.store import identifiers

if TYPE_CHECKING:
    from ragdesk.store.search import Ranked


@dataclass(frozen=True)
class FusionRule:
    rrf_k: float = 60.0
    w_bm25: float = 1.0
    w_vector: float = 1.0
    ident_w_bm25: float = 1.0  # BM25's weight instead of w_bm25 when the query names an identifier
    guard: float | None = None  # BM25's first stays first when its score >= guard x its second's


PLAIN_RRF = FusionRule()
TUNED = FusionRule(rrf_k=60.0, w_bm25=1.0, w_vector=1.0, ident_w_bm25=3.0, guard=1.5)


def fuse(vector: list["Ranked"], keyword: list["Ranked"], query: str, depth: int,
         rule: FusionRule = TUNED) -> list["Ranked"]:
    """The best ``depth`` chunks of both rankings under ``rule``, best first."""
    from ragdesk.store.search import Ranked

    w_bm25 = rule.ident_w_bm25 if rule.ident_w_bm25 != rule.w_bm25 and identifiers.identifiers(query) else rule.w_bm25
    scores: dict[int, float] = {}
    similarity: dict[int, float] = {}
    for weight, ranking in ((rule.w_vector, vector), (w_bm25, keyword)):
        for rank, item in enumerate(ranking, start=1):
            scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + weight / (rule.rrf_k + rank)
            if item.similarity is not None:
                similarity[item.chunk_id] = item.similarity
    order = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    if rule.guard is not None and _clear_winner(keyword, rule.guard):
        top = keyword[0].chunk_id
        order = [(top, order[0][1] + 1e-9)] + [kv for kv in order if kv[0] != top]
    return [Ranked(cid, score, similarity.get(cid)) for cid, score in order[:depth]]


def _clear_winner(keyword: list["Ranked"], margin: float) -> bool:
    """Whether BM25's first chunk outscores its second by ``margin`` times (a rare exact match)."""
    if not keyword:
        return False
    if len(keyword) == 1:
        return True
    return keyword[1].score > 0 and keyword[0].score >= margin * keyword[1].score
