"""Writing and removing documents with all their rows (chunks, text, vectors, BM25).

Every function here expects to run inside a transaction the caller holds, so
a document is either fully present in every table or absent from all of them;
that is what lets a killed indexing run leave a consistent database.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import apsw
import numpy as np

from ragdesk.ingest.context import title_or_name
from ragdesk.ingest.windows import WINDOW_SLOTS
from ragdesk.store import identifiers, search_options
from ragdesk.store.collections import Collection
from ragdesk.store.copies import content_hash


@dataclass(frozen=True)
class KnownDocument:
    """What the store remembers of a file, enough to decide whether to re-read it."""

    id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass
class PreparedDocument:
    """A file read, extracted and chunked, waiting for its vectors."""

    path: str
    kind: str
    size: int
    mtime_ns: int
    sha256: str
    text: str
    chunks: Sequence  # ragdesk.ingest.Chunk
    title: str | None = None  # the document's own title (None: the file name stands in)


def known_documents(conn: apsw.Connection, collection: Collection) -> dict[str, KnownDocument]:
    return {
        row[1]: KnownDocument(*row)
        for row in conn.execute(
            "SELECT id, path, size, mtime_ns, sha256 FROM documents WHERE collection_id = ?",
            (collection.id,),
        )
    }


def delete_documents(conn: apsw.Connection, collection: Collection, ids: Iterable[int]) -> int:
    """Remove documents and everything derived from them; returns how many went."""
    removed = 0
    for doc_id in ids:
        rows = conn.execute(
            "SELECT id, LENGTH(window_embeddings) FROM chunks WHERE document_id = ?", (doc_id,)
        ).fetchall()
        chunk_ids = [chunk_id for chunk_id, _ in rows]
        for chunk_id, window_bytes in rows:
            conn.execute(f"DELETE FROM {collection.vec_table} WHERE chunk_id = ?", (chunk_id,))
            conn.execute(f"DELETE FROM {collection.fts_table} WHERE rowid = ?", (chunk_id,))
            # One point delete per window (vec0 scans the whole table for a range).
            for i in range((window_bytes or 0) // (4 * collection.dimension)):
                conn.execute(f"DELETE FROM {collection.win_table} WHERE window_id = ?", (chunk_id * WINDOW_SLOTS + i,))
        # chunks and document_texts follow by ON DELETE CASCADE.
        conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        conn.execute(
            "UPDATE collections SET n_chunks = n_chunks - ?, generation = generation + 1 WHERE id = ?",
            (len(chunk_ids), collection.id),
        )
        removed += 1
    return removed


def touch_document(conn: apsw.Connection, doc_id: int, size: int, mtime_ns: int) -> None:
    """Record a new size/mtime for a file whose content hash did not change."""
    conn.execute("UPDATE documents SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, doc_id))


def move_document(conn: apsw.Connection, doc_id: int, path: str, size: int, mtime_ns: int) -> bool:
    """Give a document a new path (a renamed or moved file); its chunks, vectors and BM25 rows stay.

    False, and nothing changes, when the path already has a document (another
    process indexed it meanwhile) or the document is gone.
    """
    taken = conn.execute(
        "SELECT 1 FROM documents WHERE path = ? AND collection_id = (SELECT collection_id FROM documents WHERE id = ?)",
        (path, doc_id),
    ).fetchone()
    if taken is not None:
        return False
    conn.execute(
        "UPDATE documents SET path = ?, size = ?, mtime_ns = ? WHERE id = ?", (path, size, mtime_ns, doc_id)
    )
    return conn.changes() > 0


def write_document(
    conn: apsw.Connection,
    collection: Collection,
    doc: PreparedDocument,
    vectors: np.ndarray,
    replaces: int | None = None,
    window_vectors: Sequence[np.ndarray] | None = None,
) -> int | None:
    """Insert a document with its chunks, vectors and BM25 rows; returns its id.

    ``window_vectors`` holds, per chunk, the vectors of its sentence windows
    (written when the collection has windows on; without them the chunks wait
    for ``Indexer.fill_windows``).

    Another process indexing the same file into the collection may have
    written it since this run looked: the same content is then left as it is
    (None is returned), other content is replaced, so every file lands once.
    """
    if len(vectors) != len(doc.chunks):
        raise ValueError("one vector per chunk is required")
    if vectors.size and vectors.shape[1] != collection.dimension:
        raise ValueError(
            f"vectors have dimension {vectors.shape[1]}, collection {collection.name!r} "
            f"expects {collection.dimension}"
        )
    current = conn.execute(
        "SELECT id, sha256 FROM documents WHERE collection_id = ? AND path = ?", (collection.id, doc.path)
    ).fetchone()
    if current is not None and current[0] != replaces:
        if current[1] == doc.sha256:
            return None
        replaces = current[0]
    if replaces is not None:
        delete_documents(conn, collection, [replaces])
    conn.execute(
        "INSERT INTO documents (collection_id, path, kind, size, mtime_ns, sha256, n_chunks, indexed_at, title)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            collection.id, doc.path, doc.kind, doc.size, doc.mtime_ns, doc.sha256, len(doc.chunks), time.time(),
            doc.title,
        ),
    )
    doc_id = conn.last_insert_rowid()
    conn.execute(
        "UPDATE collections SET n_chunks = n_chunks + ?, generation = generation + 1 WHERE id = ?",
        (len(doc.chunks), collection.id),
    )
    conn.execute("INSERT INTO document_texts (document_id, text) VALUES (?, ?)", (doc_id, doc.text))
    forms = identifiers.with_forms if search_options.active().identifiers else str
    fts_title = forms(title_or_name(doc.title, doc.path))
    for ordinal, (chunk, vector) in enumerate(zip(doc.chunks, vectors)):
        blob = vector.tobytes()
        conn.execute(
            "INSERT INTO chunks (document_id, ordinal, start, end, page, heading, n_tokens, text, embedding,"
            " ocr_confidence, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc_id, ordinal, chunk.start, chunk.end, chunk.page, chunk.heading, chunk.n_tokens, chunk.text,
                blob, getattr(chunk, "ocr_confidence", None), content_hash(chunk.text),
            ),
        )
        chunk_id = conn.last_insert_rowid()
        conn.execute(
            f"INSERT INTO {collection.vec_table} (chunk_id, embedding, embedding_bits)"
            " VALUES (?, ?, vec_quantize_binary(?))",
            (chunk_id, blob, blob),
        )
        if collection.sentence_windows and window_vectors is not None:
            write_windows(conn, collection, chunk_id, window_vectors[ordinal])
        # Title and heading path are columns of their own: a query naming the page
        # or the section finds it, with the weight search.BM25_WEIGHTS gives them.
        # Identifier forms follow each, so codes match whole and by parts (identifiers.py).
        conn.execute(
            f"INSERT INTO {collection.fts_table} (rowid, text, title, headings) VALUES (?, ?, ?, ?)",
            (
                chunk_id, forms(chunk.text), fts_title,
                forms(chunk.heading or ""),
            ),
        )
    return doc_id


def write_windows(conn: apsw.Connection, collection: Collection, chunk_id: int, vectors: np.ndarray) -> None:
    """Store a chunk's sentence-window vectors: one blob on the chunk row, one vec0 row each."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, collection.dimension)
    conn.execute("UPDATE chunks SET window_embeddings = ? WHERE id = ?", (vectors.tobytes(), chunk_id))
    for i, vector in enumerate(vectors):
        blob = vector.tobytes()
        conn.execute(
            f"INSERT INTO {collection.win_table} (window_id, embedding, embedding_bits)"
            " VALUES (?, ?, vec_quantize_binary(?))",
            (chunk_id * WINDOW_SLOTS + i, blob, blob),
        )
