"""Named collections and the per-collection virtual tables behind them.

Each collection owns two virtual tables: ``vec_c<ID>`` (sqlite-vec ``vec0``
holding each chunk's float vector and its 1-bit quantisation for the fast coarse
pass) and ``fts_c<ID>`` (contentless FTS5 for BM25). They are per collection
because a vec0 table fixes its dimension and BM25 statistics should describe
one collection, not all of them. The FTS table's columns are the chunk text,
its document's title and its heading path. A collection with sentence windows
on has a third, ``win_c<ID>`` (vec0), with a vector per window of each chunk
(``ingest/windows.py``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import apsw

from ragdesk import db
from ragdesk.errors import RagdeskError

_NAME_RE = re.compile(r"^[\w][\w .@+-]{0,63}$")


class CollectionError(RagdeskError):
    """A collection that does not exist, or a request that would corrupt one."""


@dataclass(frozen=True)
class Collection:
    """A collection row: its identity and the embedding settings it is bound to."""

    id: int
    name: str
    embedding_model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    sentence_windows: bool = False

    @property
    def vec_table(self) -> str:
        return f"vec_c{self.id}"

    @property
    def win_table(self) -> str:
        """Vectors of the chunks' sentence windows (when ``sentence_windows`` is on)."""
        return f"win_c{self.id}"

    @property
    def fts_table(self) -> str:
        return f"fts_c{self.id}"

    @property
    def vocab_table(self) -> str:
        """Per-term document counts of the FTS table (fts5vocab)."""
        return f"fts_c{self.id}_vocab"


@dataclass(frozen=True)
class CollectionInfo:
    """A collection with the counts shown by ``ragdesk collections`` and the Library panel."""

    collection: Collection
    documents: int
    chunks: int
    size_bytes: int
    sources: list[str]

    @property
    def name(self) -> str:
        return self.collection.name

    def to_json(self) -> dict:
        c = self.collection
        return {
            "name": c.name,
            "documents": self.documents,
            "chunks": self.chunks,
            "embedding_model": c.embedding_model,
            "dimension": c.dimension,
            "chunk_tokens": c.chunk_tokens,
            "chunk_overlap": c.chunk_overlap,
            "sentence_windows": c.sentence_windows,
            "size_bytes": self.size_bytes,
            "sources": self.sources,
        }


_COLUMNS = "id, name, embedding_model, dimension, chunk_tokens, chunk_overlap, sentence_windows"


def _from_row(row) -> Collection:
    return Collection(*row[:-1], sentence_windows=bool(row[-1]))


def get(conn: apsw.Connection, name: str) -> Collection:
    """The collection called ``name``; raises CollectionError listing the ones that exist."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM collections WHERE name = ?", (name,)).fetchone()
    if row is None:
        names = [r[0] for r in conn.execute("SELECT name FROM collections ORDER BY name")]
        known = ", ".join(names) if names else "none yet"
        raise CollectionError(f"no collection named {name!r} (collections: {known})")
    return _from_row(row)


def find(conn: apsw.Connection, name: str) -> Collection | None:
    try:
        return get(conn, name)
    except CollectionError:
        return None


def all_collections(conn: apsw.Connection) -> list[Collection]:
    return [_from_row(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM collections ORDER BY name")]


def create(
    conn: apsw.Connection,
    name: str,
    *,
    embedding_model: str,
    dimension: int,
    chunk_tokens: int,
    chunk_overlap: int,
    sentence_windows: bool = False,
    exist_ok: bool = False,
) -> Collection:
    """Create a collection and its vector and keyword tables in one transaction.

    With ``exist_ok`` an existing collection of that name is returned instead
    of an error: the check and the insert share one IMMEDIATE transaction, so
    two processes creating the same new collection both get the one row.
    """
    if not _NAME_RE.match(name):
        raise CollectionError(
            f"invalid collection name {name!r}: use up to 64 letters, digits, spaces or . @ + - _"
        )
    if chunk_overlap >= chunk_tokens:
        raise CollectionError("chunk overlap must be smaller than the chunk size")
    with db.transaction(conn):
        existing = find(conn, name)
        if existing is not None:
            if exist_ok:
                return existing
            raise CollectionError(f"a collection named {name!r} already exists")
        conn.execute(
            "INSERT INTO collections (name, embedding_model, dimension, chunk_tokens, chunk_overlap, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, embedding_model, dimension, chunk_tokens, chunk_overlap, time.time()),
        )
        collection = get(conn, name)
        conn.execute(
            f"CREATE VIRTUAL TABLE {collection.vec_table} USING vec0("
            f"chunk_id INTEGER PRIMARY KEY, "
            f"embedding float[{dimension}] distance_metric=cosine, "
            f"embedding_bits bit[{dimension}])"
        )
        # Porter stemming: BM25 baselines (BEIR's Anserini) stem English too.
        # Columns: the chunk's text, its document's title, its heading path
        # (search.BM25_WEIGHTS weighs them).
        conn.execute(
            f"CREATE VIRTUAL TABLE {collection.fts_table} USING fts5("
            f"text, title, headings, content='', contentless_delete=1, "
            f"tokenize='porter unicode61 remove_diacritics 2')"
        )
        conn.execute(f"CREATE VIRTUAL TABLE {collection.vocab_table} USING fts5vocab({collection.fts_table}, 'row')")
        if sentence_windows:
            collection = set_sentence_windows(conn, collection, True)
    return collection


def set_sentence_windows(conn: apsw.Connection, collection: Collection, on: bool) -> Collection:
    """Turn a collection's sentence windows on or off; returns the collection as it now is.

    On makes the window table; the chunks already indexed get their windows
    from the next indexing run (``Indexer.fill_windows``). Off drops the table
    and every chunk's window vectors. Runs in its own transaction (or the caller's).
    """
    with db.transaction(conn):
        if on:
            conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {collection.win_table} USING vec0("
                f"window_id INTEGER PRIMARY KEY, "
                f"embedding float[{collection.dimension}] distance_metric=cosine, "
                f"embedding_bits bit[{collection.dimension}])"
            )
        else:
            conn.execute(f"DROP TABLE IF EXISTS {collection.win_table}")
            conn.execute(
                "UPDATE chunks SET window_embeddings = NULL WHERE window_embeddings IS NOT NULL"
                " AND document_id IN (SELECT id FROM documents WHERE collection_id = ?)",
                (collection.id,),
            )
        conn.execute(
            "UPDATE collections SET sentence_windows = ?, generation = generation + 1 WHERE id = ?",
            (int(on), collection.id),
        )
    return get(conn, collection.name)


def delete(conn: apsw.Connection, name: str) -> None:
    """Drop a collection with every row and table that belongs to it."""
    collection = get(conn, name)
    with db.transaction(conn):
        conn.execute(f"DROP TABLE IF EXISTS {collection.vocab_table}")
        conn.execute(f"DROP TABLE IF EXISTS {collection.vec_table}")
        conn.execute(f"DROP TABLE IF EXISTS {collection.fts_table}")
        conn.execute(f"DROP TABLE IF EXISTS {collection.win_table}")
        # chunks and document_texts go by ON DELETE CASCADE from documents.
        conn.execute("DELETE FROM collections WHERE id = ?", (collection.id,))


def info(conn: apsw.Connection, collection: Collection) -> CollectionInfo:
    """Counts and an estimate of the collection's share of the database file."""
    documents, chunks, text_bytes = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(n_chunks), 0), "
        "COALESCE(SUM((SELECT LENGTH(CAST(text AS BLOB)) FROM document_texts t WHERE t.document_id = d.id)), 0)"
        " FROM documents d WHERE collection_id = ?",
        (collection.id,),
    ).fetchone()
    table_bytes = db.scalar(
        conn,
        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat"
        " WHERE name IN (?, ?, ?) OR name LIKE ? ESCAPE '!' OR name LIKE ? ESCAPE '!' OR name LIKE ? ESCAPE '!'",
        # the tables and their shadow tables ("vec_c1_chunks"), not those of vec_c12
        (
            collection.vec_table, collection.fts_table, collection.win_table,
            f"{collection.vec_table}!_%", f"{collection.fts_table}!_%", f"{collection.win_table}!_%",
        ),
    )
    # Chunk rows hold about the text once more (overlaps included).
    size = int(table_bytes or 0) + 2 * int(text_bytes)
    sources = [
        r[0]
        for r in conn.execute(
            "SELECT path FROM sources WHERE collection_id = ? ORDER BY path", (collection.id,)
        )
    ]
    return CollectionInfo(collection, int(documents), int(chunks), size, sources)
