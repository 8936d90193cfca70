"""Named schema migrations, applied in order and recorded.

``PRAGMA user_version`` holds how many have run (as qutebrowser does), and the
``_migrations`` table their names (as simonw/llm does), so a database written
by a newer ragdesk is recognised and refused instead of being damaged.
Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import apsw

from ragdesk.errors import RagdeskError

Migration = Callable[[apsw.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_knowledge_store(conn: apsw.Connection) -> None:
    # Per-collection virtual tables (fts_c<ID>, vec_c<ID>) are created with
    # their collection, since a vec0 table fixes its vector dimension and BM25
    # statistics belong to one collection.
    conn.execute(
        """
        CREATE TABLE collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            embedding_model TEXT NOT NULL,
            dimension INTEGER NOT NULL,
            chunk_tokens INTEGER NOT NULL,
            chunk_overlap INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            added_at REAL NOT NULL,
            UNIQUE (collection_id, path)
        );
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            n_chunks INTEGER NOT NULL,
            indexed_at REAL NOT NULL,
            UNIQUE (collection_id, path)
        );
        CREATE TABLE document_texts (
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            text TEXT NOT NULL
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            page INTEGER,
            heading TEXT,
            n_tokens INTEGER NOT NULL,
            text TEXT NOT NULL
        );
        CREATE INDEX chunks_document ON chunks(document_id);
        """
    )


@migration
def m002_models(conn: apsw.Connection) -> None:
    # GGUF models and LoRA adapters the user has pulled, added or trained.
    conn.execute(
        """
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('model', 'adapter')),
            path TEXT NOT NULL,
            base_model TEXT,
            architecture TEXT,
            size INTEGER,
            sha256 TEXT,
            source TEXT,
            license TEXT,
            meta TEXT NOT NULL DEFAULT '{}',
            added_at REAL NOT NULL
        );
        """
    )


@migration
def m003_conversations(conn: apsw.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
            content TEXT NOT NULL,
            mode TEXT,
            model TEXT,
            adapter TEXT,
            collection TEXT,
            retrieved TEXT NOT NULL DEFAULT '[]',
            cited TEXT NOT NULL DEFAULT '[]',
            stats TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_conversation ON messages(conversation_id, id);
        """
    )


@migration
def m004_chunk_vectors_and_term_stats(conn: apsw.Connection) -> None:
    # Each chunk keeps its float vector in its own row: rescoring the candidates
    # of the quantised pass reads them by primary key, over 100x faster than
    # point lookups in a vec0 table. An fts5vocab table per collection gives
    # the document frequency of query terms, so very common terms can be
    # left out of BM25 queries.
    conn.execute("ALTER TABLE chunks ADD COLUMN embedding BLOB")
    # A running count, so searches need not sum over every document.
    conn.execute("ALTER TABLE collections ADD COLUMN n_chunks INTEGER NOT NULL DEFAULT 0")
    # Bumped by every write, so in-memory mirrors of a collection know when to reload.
    conn.execute("ALTER TABLE collections ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE collections SET n_chunks ="
        " (SELECT COALESCE(SUM(n_chunks), 0) FROM documents WHERE collection_id = collections.id)"
    )
    for (cid,) in conn.execute("SELECT id FROM collections").fetchall():
        conn.execute(
            f"UPDATE chunks SET embedding = (SELECT embedding FROM vec_c{cid} v WHERE v.chunk_id = chunks.id)"
            f" WHERE document_id IN (SELECT id FROM documents WHERE collection_id = {cid})"
        )
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS fts_c{cid}_vocab USING fts5vocab(fts_c{cid}, 'row')")


@migration
def m005_reranker_kind(conn: apsw.Connection) -> None:
    # Rerankers (cross-encoder folders) join models and adapters in the models
    # table. SQLite cannot change a CHECK constraint in place: copy the table.
    conn.execute(
        """
        CREATE TABLE models_new (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('model', 'adapter', 'reranker')),
            path TEXT NOT NULL,
            base_model TEXT,
            architecture TEXT,
            size INTEGER,
            sha256 TEXT,
            source TEXT,
            license TEXT,
            meta TEXT NOT NULL DEFAULT '{}',
            added_at REAL NOT NULL
        );
        INSERT INTO models_new SELECT id, name, kind, path, base_model, architecture, size, sha256, source,
            license, meta, added_at FROM models;
        DROP TABLE models;
        ALTER TABLE models_new RENAME TO models;
        """
    )


@migration
def m006_chunk_ocr_confidence(conn: apsw.Connection) -> None:
    # Chunks read by OCR keep the engine's mean confidence over their text
    # (0..1); NULL means the text came from the file itself.
    conn.execute("ALTER TABLE chunks ADD COLUMN ocr_confidence REAL")


@migration
def m008_chunk_content_hash(conn: apsw.Connection) -> None:
    # Copies of one text in several files take one search result: each chunk
    # keeps a hash of its normalised text, indexed to find the other copies.
    from ragdesk.store.copies import content_hash

    conn.execute("ALTER TABLE chunks ADD COLUMN content_hash TEXT")
    rows = conn.execute("SELECT id, text FROM chunks").fetchall()
    conn.executemany("UPDATE chunks SET content_hash = ? WHERE id = ?", [(content_hash(t), i) for i, t in rows])
    conn.execute("CREATE INDEX chunks_content_hash ON chunks(content_hash)")


@migration
def m007_titles_and_heading_columns(conn: apsw.Connection) -> None:
    # Named m007 as allotted, but appended after m008 (which main shipped first):
    # the runner goes by list position, so databases already at m008 get this next.
    # Documents keep their own title (HTML <title>, PDF metadata, first heading).
    # NULL here means "indexed before titles were read": the file is not re-read
    # for it (re-index to get the real title); its file name stands in meanwhile.
    # The BM25 table of each collection gets the title and the heading path as
    # columns of their own, so bm25() can weigh them; contentless FTS5 tables
    # cannot gain columns, so each is rebuilt from the stored chunks.
    from ragdesk.store.identifiers import with_forms

    conn.execute("ALTER TABLE documents ADD COLUMN title TEXT")
    for (cid,) in conn.execute("SELECT id FROM collections").fetchall():
        conn.execute(f"DROP TABLE IF EXISTS fts_c{cid}_vocab")
        conn.execute(f"DROP TABLE IF EXISTS fts_c{cid}")
        conn.execute(
            f"CREATE VIRTUAL TABLE fts_c{cid} USING fts5(text, title, headings, content='', contentless_delete=1,"
            f" tokenize='porter unicode61 remove_diacritics 2')"
        )
        rows = conn.execute(
            "SELECT c.id, c.text, d.path, c.heading FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE d.collection_id = ? ORDER BY c.id",
            (cid,),
        ).fetchall()
        for chunk_id, text, path, heading in rows:
            name = path.replace("\\", "/").rsplit("/", 1)[-1]
            stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
            conn.execute(
                f"INSERT INTO fts_c{cid} (rowid, text, title, headings) VALUES (?, ?, ?, ?)",
                (chunk_id, with_forms(text), with_forms(stem), with_forms(heading or "")),
            )
        conn.execute(f"CREATE VIRTUAL TABLE fts_c{cid}_vocab USING fts5vocab(fts_c{cid}, 'row')")


@migration
def m009_sentence_windows(conn: apsw.Connection) -> None:
    # A collection may embed each chunk's sentence windows too (ingest/windows.py).
    # The chunk row keeps its windows' vectors in one blob (NULL: not embedded yet,
    # empty: the chunk has none), which exact rescoring reads; the collection's
    # win_c<ID> vec0 table, made when windows are turned on, serves their KNN.
    conn.execute("ALTER TABLE collections ADD COLUMN sentence_windows INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE chunks ADD COLUMN window_embeddings BLOB")


class SchemaTooNew(RagdeskError):
    """The database was written by a newer ragdesk."""


def apply(conn: apsw.Connection) -> list[str]:
    """Apply the migrations this database lacks; return their names."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"this database has schema version {version}, newer than this ragdesk "
            f"understands ({len(MIGRATIONS)}); upgrade ragdesk"
        )
    applied = []
    for number, (name, fn) in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: another process may have migrated.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                conn.execute("COMMIT")
                continue
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            fn(conn)
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
            conn.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(name)
    return applied
