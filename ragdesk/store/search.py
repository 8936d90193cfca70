"""Retrieval over one collection: vector KNN, BM25, and their fusion (``fusion.py``).

Vector search is exact (sqlite-vec float KNN) for small collections. Above
``EXACT_LIMIT`` chunks it runs a coarse pass over 1-bit quantised vectors
(``vec_quantize_binary``, Hamming distance; several times faster) and rescores
the candidates with exact cosine similarity; its recall against the exact
search is measured in ``benchmarks/search_latency.py``.
"""

from __future__ import annotations

import dataclasses
import re
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import apsw
import numpy as np

from ragdesk.ingest.windows import WINDOW_SLOTS
from ragdesk.records import Hit
from ragdesk.store import copies, fusion, identifiers, search_options
from ragdesk.store.collections import Collection

if TYPE_CHECKING:
    from ragdesk.store.bitindex import BitIndex

SEARCH_MODES = ("hybrid", "vector", "bm25")
EXACT_LIMIT = 20_000
COARSE_FACTOR = 4  # sqlite-vec's bit KNN slows with k: few candidates
COARSE_MIN = 64
MIRROR_CANDIDATES = 200  # the in-memory mirror can afford many more
WINDOW_DEPTH_FACTOR = 3  # windows fetched per chunk wanted (a chunk's windows often come together)
MIRROR_WINDOW_FACTOR = 10  # windows taken from the windows' bit mirror per chunk wanted
VEC0_MAX_K = 4096  # sqlite-vec refuses a larger k
WINDOWS_PER_CHUNK = 4  # about what two-sentence windows of 200-token chunks come to
MAX_DEPTH_FACTOR = 16  # how much deeper than usual a search ranks when copies crowd its lists
# bm25() weights of the FTS columns (text, title, headings): a term in the
# document's title or the chunk's heading path says more about what the chunk
# is about than one in its body. Weights of (1, 0, 0) rank by the body alone.
BM25_WEIGHTS = (1.0, 4.0, 2.0)
BODY_ONLY = (1.0, 0.0, 0.0)
COMMON_TERM_SHARE = 0.05
COMMON_TERM_MIN_ROWS = 20_000
MIN_QUERY_TERMS = 3
# A pasted page as a query: its rarest words are what BM25 ranks by anyway.
MAX_QUERY_TERMS = 64
MAX_DISTINCT_WORDS = 2000  # stems looked at before choosing (bounds work on a 100 KB query)

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_TITLE_SITE_SEPARATOR = re.compile(r"\s[-|\u2013\u2014]\s")  # "Page - Site", "Page | Site", en and em dashes
# Function words that only add noise to an OR-query (ranking barely changes,
# speed improves a lot on large collections).
_STOPWORDS = frozenset(
    "a an and are as at be but by for from has have how i if in into is it its of on or "
    "that the their there these they this to was were what when where which who why will "
    "with does do did can could should would you your".split()
)


class QueryError(ValueError):
    """A query that cannot be searched (an empty one); the message says why."""


def check_query(text: str) -> str:
    """The query without surrounding blanks; QueryError when nothing is left."""
    text = (text or "").strip()
    if not text:
        raise QueryError("the query is empty: type some words to search for")
    return text


@dataclass(frozen=True)
class Ranked:
    chunk_id: int
    score: float
    similarity: float | None = None


def chunk_count(conn: apsw.Connection, collection: Collection) -> int:
    """Chunks in the collection (a running count kept by the document writer)."""
    return int(conn.execute("SELECT n_chunks FROM collections WHERE id = ?", (collection.id,)).fetchone()[0])


def vector_ranking(
    conn: apsw.Connection,
    collection: Collection,
    query: np.ndarray,
    k: int,
    *,
    exact: bool | None = None,
    bits: BitIndex | None = None,
    window_bits: BitIndex | None = None,
) -> list[Ranked]:
    """The ``k`` chunks nearest to the (normalised) query vector, best first.

    Small collections get exact float KNN from vec0. Large ones get a coarse
    pass over the 1-bit codes (the in-memory ``bits`` mirror when given,
    otherwise sqlite-vec's own bit KNN) and exact rescoring of its candidates.
    With sentence windows, a chunk's score is the better of its own and its
    best window's similarity (``window_bits``: the windows' mirror).
    """
    blob = np.ascontiguousarray(query, dtype=np.float32).tobytes()
    count = chunk_count(conn, collection) if exact is None or collection.sentence_windows else 0
    if exact is None:
        exact = count <= EXACT_LIMIT
    if collection.sentence_windows:
        return _with_windows(conn, collection, query, k, exact, bits, window_bits, count)
    if exact:
        sql = f"SELECT chunk_id, distance FROM {collection.vec_table} WHERE embedding MATCH ? AND k = ?"
        return [Ranked(cid, 1.0 - dist, 1.0 - dist) for cid, dist in conn.execute(sql, (blob, k))]
    if bits is not None:
        candidates = bits.candidates(conn, query, max(MIRROR_CANDIDATES, 10 * k))
    else:
        candidates = [
            row[0]
            for row in conn.execute(
                f"SELECT chunk_id FROM {collection.vec_table}"
                f" WHERE embedding_bits MATCH vec_quantize_binary(?) AND k = ?",
                (blob, max(COARSE_MIN, COARSE_FACTOR * k)),
            )
        ]
    return sorted(rescore(conn, collection, query, candidates), key=lambda r: -r.score)[:k]


def _with_windows(
    conn: apsw.Connection,
    collection: Collection,
    query: np.ndarray,
    k: int,
    exact: bool,
    bits: BitIndex | None,
    window_bits: BitIndex | None,
    count: int,
) -> list[Ranked]:
    """Chunks ranked by the better of their own cosine and their best sentence window's.

    Candidates are the nearest chunks and the chunks of the windows nearest
    by their 1-bit codes (the in-memory mirror; without it sqlite-vec's exact
    KNN while the windows, about four per chunk, stay under ``EXACT_LIMIT``,
    else its bit KNN). Each candidate is then scored exactly from its row.
    """
    chunk_ids = [r.chunk_id for r in vector_ranking(conn, _without_windows(collection), query, k, exact=exact, bits=bits)]
    if window_bits is not None:
        chunk_ids += window_bits.candidates(conn, query, max(MIRROR_CANDIDATES, MIRROR_WINDOW_FACTOR * k))
    else:
        blob = np.ascontiguousarray(query, dtype=np.float32).tobytes()
        if count * WINDOWS_PER_CHUNK <= EXACT_LIMIT:
            sql = f"SELECT window_id FROM {collection.win_table} WHERE embedding MATCH ? AND k = ?"
            params = (blob, min(VEC0_MAX_K, WINDOW_DEPTH_FACTOR * k))
        else:
            sql = (f"SELECT window_id FROM {collection.win_table}"
                   f" WHERE embedding_bits MATCH vec_quantize_binary(?) AND k = ?")
            params = (blob, min(VEC0_MAX_K, max(COARSE_MIN, COARSE_FACTOR * WINDOW_DEPTH_FACTOR * k)))
        chunk_ids += [window_id // WINDOW_SLOTS for (window_id,) in conn.execute(sql, params)]
    return sorted(rescore(conn, collection, query, list(dict.fromkeys(chunk_ids))), key=lambda r: -r.score)[:k]


def _without_windows(collection: Collection) -> Collection:
    return dataclasses.replace(collection, sentence_windows=False)


def rescore(
    conn: apsw.Connection, collection: Collection, query: np.ndarray, chunk_ids: list[int]
) -> list[Ranked]:
    """Exact cosine similarity of the given chunks to the query.

    In a collection with sentence windows the score is the better of the
    chunk's similarity and its best window's; ``similarity`` stays the chunk's own.
    """
    if not chunk_ids:
        return []
    # Primary-key reads of the chunk rows: microseconds each, where a point
    # lookup in the vec0 table costs a third of a millisecond.
    query = np.asarray(query, dtype=np.float32)
    windows = collection.sentence_windows
    sql = "SELECT embedding, window_embeddings FROM chunks WHERE id = ?" if windows else (
        "SELECT embedding FROM chunks WHERE id = ?")
    vectors = np.empty((len(chunk_ids), collection.dimension), dtype=np.float32)
    window_blobs, owners = [], []  # every candidate's windows, scored in one product below
    for i, chunk_id in enumerate(chunk_ids):
        row = conn.execute(sql, (chunk_id,)).fetchone()
        vectors[i] = np.frombuffer(row[0], dtype=np.float32)
        if windows and row[1]:
            window_blobs.append(row[1])
            owners.append(np.full(len(row[1]) // (4 * collection.dimension), i))
    sims = vectors @ query
    scores = sims
    if window_blobs:
        window_sims = np.frombuffer(b"".join(window_blobs), dtype=np.float32).reshape(-1, collection.dimension) @ query
        best_window = np.full(len(chunk_ids), -1.0, dtype=np.float32)
        np.maximum.at(best_window, np.concatenate(owners), window_sims)
        scores = np.maximum(sims, best_window)
    return [Ranked(cid, float(score), float(sim)) for cid, score, sim in zip(chunk_ids, scores, sims)]


def query_terms(conn: apsw.Connection, text: str) -> list[tuple[str, str]]:
    """(word, stem) pairs of a query, stop words removed, first occurrence of each stem.

    Only words survive (FTS5 operators and punctuation are dropped), so any
    text is a valid query; at most ``MAX_DISTINCT_WORDS`` stems are returned.
    """
    words = [w for w in _WORD_RE.findall(text)]
    content = [w for w in words if w.lower() not in _STOPWORDS] or words
    stems: dict[str, str] = {}
    stem = _stemmer(conn)
    for word in content:
        tokens = stem(word.encode("utf-8"), apsw.FTS5_TOKENIZE_QUERY, None)
        if tokens:
            stems.setdefault(tokens[0][2], word)
            if len(stems) >= MAX_DISTINCT_WORDS:
                break
    return [(word, stem) for stem, word in stems.items()]


def _stemmer(conn: apsw.Connection):
    # The same tokenizer the FTS tables use, so stems match their vocabulary.
    return conn.fts5_tokenizer("porter", ["unicode61", "remove_diacritics", "2"])


def fts_query(conn: apsw.Connection, collection: Collection, text: str, total: int) -> str | None:
    """A safe FTS5 OR-query of the query's identifiers and informative words (None if it has none).

    Every term is a quoted string, so FTS5 syntax typed by a user (quotes,
    ``*``, ``NEAR(``, ``AND``, ``-``, ``:``) is searched as words, never parsed.
    Identifiers add their joined form and their pieces as a phrase (see
    ``identifiers``). Terms found in more than ``COMMON_TERM_SHARE`` of the
    chunks carry almost no BM25 weight but make FTS5 score a large part of the
    collection; they are left out once the collection is big, keeping at least
    the rarest few. A very long query keeps its ``MAX_QUERY_TERMS`` rarest words.
    """
    phrases = identifiers.query_phrases(text) if search_options.active().identifiers else []
    terms = query_terms(conn, text)
    prune_common = total >= COMMON_TERM_MIN_ROWS and len(terms) > MIN_QUERY_TERMS
    if prune_common or len(terms) > MAX_QUERY_TERMS:
        df = _document_counts(conn, collection, [stem for _, stem in terms])
        if prune_common:
            by_rarity = sorted(terms, key=lambda t: df.get(t[1], 0))
            kept = [t for t in by_rarity if df.get(t[1], 0) <= COMMON_TERM_SHARE * total]
            terms = kept if len(kept) >= MIN_QUERY_TERMS else by_rarity[:MIN_QUERY_TERMS]
        if len(terms) > MAX_QUERY_TERMS:
            # Words the collection lacks score nothing: keep the rarest of those it has.
            terms = sorted(terms, key=lambda t: (df.get(t[1], 0) == 0, df.get(t[1], 0)))[:MAX_QUERY_TERMS]
    quoted = ['"' + p.replace('"', '""') + '"' for p in phrases]
    quoted += ['"' + word.replace('"', '""') + '"' for word, _ in terms]
    return " OR ".join(dict.fromkeys(quoted)) or None


def _document_counts(conn: apsw.Connection, collection: Collection, stems: list[str]) -> dict[str, int]:
    """How many chunks hold each stem (fts5vocab), looked up in batches under SQLite's variable limit."""
    df: dict[str, int] = {}
    for i in range(0, len(stems), 500):
        batch = stems[i : i + 500]
        sql = f"SELECT term, doc FROM {collection.vocab_table} WHERE term IN ({','.join('?' * len(batch))})"
        df.update(conn.execute(sql, batch))
    return df


def bm25_ranking(conn: apsw.Connection, collection: Collection, query: str, k: int) -> list[Ranked]:
    """The ``k`` best chunks by BM25 (score = -bm25, higher is better)."""
    match = fts_query(conn, collection, query, chunk_count(conn, collection))
    if match is None:
        return []
    weights = ", ".join(repr(float(w)) for w in (BM25_WEIGHTS if search_options.active().titles else BODY_ONLY))
    sql = (
        f"SELECT rowid, rank FROM {collection.fts_table}"
        f" WHERE {collection.fts_table} MATCH ? AND rank MATCH ? ORDER BY rank LIMIT ?"
    )
    # "rank MATCH" sets this query's ranking function: FTS5 still sorts by it itself.
    return [Ranked(cid, -score) for cid, score in conn.execute(sql, (match, f"bm25({weights})", k))]


def hits_for(conn: apsw.Connection, ranked: list[Ranked]) -> list[Hit]:
    """Attach document and chunk details to ranked chunk ids, keeping the order."""
    if not ranked:
        return []
    ids = [r.chunk_id for r in ranked]
    marks = ",".join("?" * len(ids))
    details = {
        row[0]: row
        for row in conn.execute(
            "SELECT c.id, c.document_id, d.path, c.page, c.heading, c.start, c.end, c.text, c.ocr_confidence,"
            f" d.title FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
            ids,
        )
    }
    hits = []
    for r in ranked:
        row = details.get(r.chunk_id)
        if row is not None:
            hits.append(
                Hit(*row[:8], score=r.score, similarity=r.similarity, ocr_confidence=row[8], title=row[9])
            )
    return hits


def hybrid_depth(k: int) -> int:
    """How many chunks each ranking contributes to the fusion of the best ``k``."""
    return max(2 * k, 20)


def search(
    conn: apsw.Connection,
    collection: Collection,
    query: str,
    query_vector: np.ndarray | None,
    *,
    k: int = 10,
    mode: str = "hybrid",
    keyword: list[Ranked] | Future[list[Ranked]] | None = None,
    bits: BitIndex | None = None,
    window_bits: BitIndex | None = None,
) -> list[Hit]:
    """Search one collection; ``query_vector`` is required for vector and hybrid modes.

    ``keyword`` may carry the BM25 ranking for hybrid search (depth
    ``hybrid_depth(k)``) when the caller computes it concurrently: a future is
    waited for only after the vector ranking, so both run at once.
    """
    if mode not in SEARCH_MODES:
        raise ValueError(f"unknown search mode {mode!r} (choose from {', '.join(SEARCH_MODES)})")
    if k <= 0:
        return []
    assert mode == "bm25" or query_vector is not None
    # Ranked deeper than k: copies of one text collapse into one hit (copies.py).
    # When copies crowd out k different texts (a folder copied several times),
    # rank deeper still, up to MAX_DEPTH_FACTOR times, before settling for fewer.
    depth = hybrid_depth(k)
    while True:
        ranked, more = _ranking(conn, collection, query, query_vector, mode, depth, keyword, bits, window_bits)
        chosen = _distinct(conn, ranked, k)
        if len(chosen) >= k or not more or depth >= MAX_DEPTH_FACTOR * hybrid_depth(k):
            break
        depth *= 4
        keyword = None  # a BM25 ranking computed ahead was for the first depth
    missing = [r.chunk_id for r in chosen if r.similarity is None]
    if mode == "hybrid" and missing:
        # Keyword-only hits get their cosine similarity too, for relevance thresholds.
        sims = {r.chunk_id: r.similarity for r in rescore(conn, collection, query_vector, missing)}
        chosen = [Ranked(r.chunk_id, r.score, sims.get(r.chunk_id, r.similarity)) for r in chosen]
    hits = hits_for(conn, chosen)
    return copies.with_copies(conn, collection, hits) if search_options.active().dedupe else hits


def _ranking(
    conn: apsw.Connection,
    collection: Collection,
    query: str,
    query_vector: np.ndarray | None,
    mode: str,
    depth: int,
    keyword: list[Ranked] | Future[list[Ranked]] | None,
    bits: BitIndex | None,
    window_bits: BitIndex | None = None,
) -> tuple[list[Ranked], bool]:
    """One mode's ranking ``depth`` deep, and whether a list it came from was cut at ``depth``."""
    if mode == "bm25":
        ranked = bm25_ranking(conn, collection, query, depth)
        return ranked, len(ranked) >= depth
    vector = vector_ranking(conn, collection, query_vector, depth, bits=bits, window_bits=window_bits)
    if mode == "vector":
        return vector, len(vector) >= depth
    if keyword is None:
        keyword = bm25_ranking(conn, collection, query, depth)
    elif isinstance(keyword, Future):
        keyword = keyword.result()
    tuned = search_options.active().fusion == "tuned"
    rule = fusion.tuned_rule(collection.sentence_windows) if tuned else fusion.PLAIN_RRF
    named = rule.title_guard and bool(keyword) and names_title(conn, query, keyword[0].chunk_id)
    fused = fusion.fuse(vector, keyword, query, depth, rule, title_named=named)
    return fused, len(vector) >= depth or len(keyword) >= depth


def _distinct(conn: apsw.Connection, ranked: list[Ranked], k: int) -> list[Ranked]:
    return copies.distinct(conn, ranked, k) if search_options.active().dedupe else ranked[:k]


def names_title(conn: apsw.Connection, query: str, chunk_id: int) -> bool:
    """Whether ``query`` names the title of the chunk's document (``query_names_title``)."""
    row = conn.execute(
        "SELECT d.title FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?", (chunk_id,)
    ).fetchone()
    return bool(row) and query_names_title(query, row[0])


def query_names_title(query: str, title: str | None) -> bool:
    """Whether ``query`` holds the words of ``title``, in order, case aside.

    The page's own name in a "Page - Site" title counts too ("E0382 - Error
    codes index", "std::iter - Rust"). A title of function words alone names nothing.
    """
    if not title:
        return False
    words = [w.lower() for w in _WORD_RE.findall(query)]
    for name in dict.fromkeys((title, _TITLE_SITE_SEPARATOR.split(title, maxsplit=1)[0])):
        named = [w.lower() for w in _WORD_RE.findall(name)]
        if named and not all(w in _STOPWORDS for w in named):
            n = len(named)
            if any(words[i : i + n] == named for i in range(len(words) - n + 1)):
                return True
    return False
