"""Fusing the BM25 and vector rankings of a hybrid search.

Plain reciprocal-rank fusion (RRF, k=60) lets the vector list outvote an exact
lexical match: on real documentation it put the page titled ``E0382`` fifth
for "What does Rust error E0382 mean?", where BM25 alone had it first. The
rule here was chosen with ``tests/benchmarks/fusion_lab.py`` (which runs this
very function on dumped rankings) on the dev half of the real-documents set
and a tuning half of SciFact, and reported on the other halves without
retuning. It is the one rule of the lab's grid (RRF constants and weights,
convex score combinations, guards) that is at least as good as the better of
BM25 and vector in every dev category:

* reciprocal-rank fusion with a small constant (k=10: the first few places of
  each list count for more than with the usual 60), BM25 weighted 0.85;
* BM25 weighted 3 to 1 when the query names a code or a name
  (``identifiers.names_identifier``): codes are what BM25 finds and a
  sentence embedding blurs;
* a guard: BM25's first chunk stays first when its score beats BM25's second
  by 1.2 times (a rare exact lexical match, such as a pasted sentence);
* a title guard: BM25's first chunk also stays first when the query names its
  document's title ("What is CMP0048?" and the page titled ``CMP0048``; "How
  do I use the Documentation module?" and the page titled ``Documentation``).
  Without it, a page that mentions the name in a passage the vector search
  likes could take first place: with sentence windows on, two identifier
  questions of the dev set lost their page to one. The caller tells ``fuse``
  whether the title is named (``search.names_title``): the rankings alone do
  not know titles.

A collection with sentence windows (``ingest.windows``) fuses by another rule,
chosen the same way on rankings of windowed collections: its vector list is a
stronger retriever (a chunk scored by its best two-sentence window), and RRF,
which only sees ranks, kept it under vector search alone on paraphrased
questions. A convex combination of the two lists' scores, each scaled by its
best, with BM25 weighted 0.3 (0.9 when the query names an identifier) and the
title guard, is the best rule of the lab's grid that meets every dev category
there; it would lose on dev without windows, where TUNED stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragdesk.store import identifiers

if TYPE_CHECKING:
    from ragdesk.store.search import Ranked


METHODS = ("rrf", "convex")


@dataclass(frozen=True)
class FusionRule:
    method: str = "rrf"  # "rrf": ranks; "convex": normalised scores (see ``_convex``)
    rrf_k: float = 60.0
    w_bm25: float = 1.0
    w_vector: float = 1.0
    ident_w_bm25: float = 1.0  # BM25's weight instead of w_bm25 when the query names an identifier
    ident_rrf_k: float | None = None  # the RRF constant for such queries (None: rrf_k)
    guard: float | None = None  # BM25's first stays first when its score >= guard x its second's
    title_guard: bool = False  # BM25's first stays first when the query names its document's title

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown fusion method {self.method!r} (choose from {', '.join(METHODS)})")


PLAIN_RRF = FusionRule()
TUNED = FusionRule(rrf_k=10.0, w_bm25=0.85, w_vector=1.0, ident_w_bm25=3.0, guard=1.2,
                   title_guard=True)  # see fusion_lab.py
WINDOWS_TUNED = FusionRule(method="convex", w_bm25=0.3, ident_w_bm25=0.9, title_guard=True)


def tuned_rule(sentence_windows: bool) -> FusionRule:
    """The chosen rule for a collection with or without sentence windows."""
    return WINDOWS_TUNED if sentence_windows else TUNED


def fuse(vector: list[Ranked], keyword: list[Ranked], query: str, depth: int,
         rule: FusionRule = TUNED, *, title_named: bool = False) -> list[Ranked]:
    """The best ``depth`` chunks of both rankings under ``rule``, best first.

    ``title_named``: the query names the title of the document of BM25's first chunk.
    """
    from ragdesk.store.search import Ranked

    named = (rule.ident_w_bm25 != rule.w_bm25 or rule.ident_rrf_k is not None) and identifiers.names_identifier(query)
    w_bm25 = rule.ident_w_bm25 if named else rule.w_bm25
    rrf_k = rule.ident_rrf_k if named and rule.ident_rrf_k is not None else rule.rrf_k
    similarity = {item.chunk_id: item.similarity for item in vector if item.similarity is not None}
    similarity.update({item.chunk_id: item.similarity for item in keyword if item.similarity is not None})
    if rule.method == "convex":
        scores = _convex(vector, keyword, rule.w_vector, w_bm25)
    else:
        scores = {}
        for weight, ranking in ((rule.w_vector, vector), (w_bm25, keyword)):
            for rank, item in enumerate(ranking, start=1):
                scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + weight / (rrf_k + rank)
    order = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    kept_first = rule.guard is not None and _clear_winner(keyword, rule.guard)
    if keyword and (kept_first or (rule.title_guard and title_named)):
        top = keyword[0].chunk_id
        order = [(top, order[0][1] + 1e-9)] + [kv for kv in order if kv[0] != top]
    return [Ranked(cid, score, similarity.get(cid)) for cid, score in order[:depth]]


def _convex(vector: list[Ranked], keyword: list[Ranked], w_vector: float, w_bm25: float) -> dict[int, float]:
    """Weighted sum of each list's scores scaled to [0, 1] by its best score.

    Scaling by the best score alone (the floor is each score's theoretical
    minimum, 0: cosine of unrelated texts, BM25 of no match) keeps a chunk's
    share independent of how deep the lists were fetched, unlike min-max over
    the list. A chunk missing from one list gets 0 from it.
    """
    scores: dict[int, float] = {}
    for weight, ranking in ((w_vector, vector), (w_bm25, keyword)):
        top = max((item.score for item in ranking), default=0.0)
        if top <= 0:
            continue
        for item in ranking:
            scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + weight * max(item.score, 0.0) / top
    return scores


def _clear_winner(keyword: list[Ranked], margin: float) -> bool:
    """Whether BM25's first chunk outscores its second by ``margin`` times (a rare exact match)."""
    if not keyword:
        return False
    if len(keyword) == 1:
        return True
    return keyword[1].score > 0 and keyword[0].score >= margin * keyword[1].score
