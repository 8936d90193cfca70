"""KnowledgeStore: the one object the CLI, the chat engine and the GUI use for documents."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ragdesk import db, paths
from ragdesk.records import Hit
from ragdesk.settings import Settings
from ragdesk.store import collections as coll
from ragdesk.store import documents
from ragdesk.store import search as search_mod
from ragdesk.store.collections import Collection, CollectionError, CollectionInfo
from ragdesk.store.indexer import CancelFn, Indexer, IndexReport, ProgressFn

log = logging.getLogger(__name__)


class KnowledgeStore:
    """Collections of indexed documents in one SQLite file, searchable three ways."""

    def __init__(self, db_path: str | os.PathLike | None = None, settings: Settings | None = None) -> None:
        self.db_path = Path(db_path) if db_path else paths.db_path()
        self.settings = settings or Settings.load()
        self.conn = db.connect(self.db_path)
        self._embedders: dict[str, object] = {}
        self._pool = None
        self._read_conn = None
        self._bits: dict = {}  # collection id (or ("windows", id)) -> BitIndex
        self._rerankers: dict[str, object] = {}  # setting value -> Reranker

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._read_conn is not None:
            self._read_conn.close()
        self.conn.close()

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- collections -------------------------------------------------------

    def embedder(self, model: str):
        """The (lazily loaded) embedder for a model name, shared per store."""
        from ragdesk.fake_embedder import create_embedder

        if model not in self._embedders:
            self._embedders[model] = create_embedder(model, backend=self.settings.embedding_backend)
        return self._embedders[model]

    def collection(self, name: str | None = None) -> Collection:
        """An existing collection (the default one when ``name`` is None)."""
        return coll.get(self.conn, name or self.settings.default_collection)

    def ensure_collection(self, name: str | None = None, *, embedding_model: str | None = None) -> Collection:
        """The named collection, created with the current settings if it doesn't exist.

        A collection is bound to one embedding model; asking for another model
        for an existing collection is refused rather than mixing vectors.
        """
        name = name or self.settings.default_collection
        existing = coll.find(self.conn, name)
        if existing is None:
            # Another process may create it between the look and the insert:
            # creation then returns theirs (one transaction decides).
            existing = self.create_collection(name, embedding_model=embedding_model, exist_ok=True)
        if embedding_model and embedding_model != existing.embedding_model:
            raise CollectionError(
                f"collection {name!r} uses embedding model {existing.embedding_model!r}; "
                f"it cannot mix in vectors from {embedding_model!r} (make a new collection)"
            )
        return existing

    def create_collection(
        self, name: str, *, embedding_model: str | None = None, exist_ok: bool = False
    ) -> Collection:
        """A new collection bound to an embedding model (the settings' by default).

        With ``exist_ok`` an existing collection of that name is returned instead.
        """
        model = embedding_model or self.settings.embedding_model
        return coll.create(
            self.conn,
            name,
            embedding_model=model,
            dimension=self.embedder(model).dimension,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            sentence_windows=self.settings.sentence_windows,
            exist_ok=exist_ok,
        )

    def set_sentence_windows(self, name: str | None, on: bool) -> Collection:
        """Turn a collection's sentence windows on or off (created if new).

        Turning them on costs nothing until the next indexing run of the
        collection, which embeds the windows of the chunks it already has.
        """
        return coll.set_sentence_windows(self.conn, self.ensure_collection(name), on)

    def delete_collection(self, name: str) -> None:
        coll.delete(self.conn, name)

    def collections(self) -> list[CollectionInfo]:
        return [coll.info(self.conn, c) for c in coll.all_collections(self.conn)]

    def info(self, name: str | None = None) -> CollectionInfo:
        return coll.info(self.conn, self.collection(name))

    # -- indexing ----------------------------------------------------------

    def index(
        self,
        roots: Iterable[str | os.PathLike],
        collection: str | None = None,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> IndexReport:
        """Add or re-sync files and folders; only new and changed files are processed."""
        target = self.ensure_collection(collection)
        roots = [Path(os.path.abspath(os.path.expanduser(str(r)))) for r in roots]
        with db.transaction(self.conn):
            for root in roots:
                if root.exists():
                    self.conn.execute(
                        "INSERT OR IGNORE INTO sources (collection_id, path, added_at) VALUES (?, ?, ?)",
                        (target.id, str(root), time.time()),
                    )
        return self._indexer(target, progress, cancel).run(roots)

    def _indexer(self, target: Collection, progress: ProgressFn | None, cancel: CancelFn | None) -> Indexer:
        from ragdesk.ingest import IngestRules

        rules = IngestRules.from_settings(self.settings)
        return Indexer(self.conn, target, rules, self.embedder(target.embedding_model), progress=progress, cancel=cancel)

    def sync_changes(
        self,
        folder: str | os.PathLike | None,
        changed: Iterable[str | os.PathLike],
        collection: str | None = None,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> IndexReport:
        """Bring the collection in line with paths that changed inside one of its source folders.

        Each path may be a file or folder, created, changed or gone; the
        folder's rules (skip list, ignore files) apply to them as in a walk
        of ``folder``. A gone path loses its rows; a renamed file keeps them.
        With no folder (a source that is a single file) no rules apply.
        """
        target = self.collection(collection)
        within = Path(os.path.abspath(folder)) if folder is not None else None
        return self._indexer(target, progress, cancel).run([Path(p) for p in changed], within=within, missing_ok=True)

    def catch_up(
        self, sources: dict[str, list[str]] | None = None, *, cancel: CancelFn | None = None
    ) -> list[IndexReport]:
        """Re-sync the sources (by default every collection's) that exist now; one report per collection.

        A source that is missing is left alone rather than emptied: it may be a
        drive that is not plugged in. Cheap when nothing changed (size and mtime).
        """
        reports = []
        for name, folders in (self.sources() if sources is None else sources).items():
            present = [p for p in folders if os.path.exists(p)]
            if present and not (cancel is not None and cancel()):
                reports.append(self.index(present, name, cancel=cancel))
        return reports

    def sources(self) -> dict[str, list[str]]:
        """``{collection name: [source folders and files]}``, cheaply (no counts)."""
        out: dict[str, list[str]] = {c.name: [] for c in coll.all_collections(self.conn)}
        for name, path in self.conn.execute(
            "SELECT c.name, s.path FROM sources s JOIN collections c ON c.id = s.collection_id ORDER BY c.name, s.path"
        ):
            out[name].append(path)
        return out

    def resync(
        self, collection: str | None = None, *, progress: ProgressFn | None = None, cancel: CancelFn | None = None
    ) -> IndexReport:
        """Re-index every folder and file the collection was built from."""
        info = self.info(collection)
        return self.index(info.sources, info.name, progress=progress, cancel=cancel)

    def forget(self, targets: Iterable[str | os.PathLike], collection: str | None = None) -> int:
        """Remove files or folders (and every row derived from them); returns documents removed.

        With no collection named, they are removed from every collection.
        """
        chosen = [self.collection(collection)] if collection else coll.all_collections(self.conn)
        removed = 0
        for target in targets:
            path = os.path.abspath(os.path.expanduser(str(target)))
            prefix = path.rstrip(os.sep) + os.sep
            for c in chosen:
                ids = [
                    r[0]
                    for r in self.conn.execute(
                        "SELECT id FROM documents WHERE collection_id = ? AND (path = ? OR substr(path, 1, ?) = ?)",
                        (c.id, path, len(prefix), prefix),
                    )
                ]
                with db.transaction(self.conn):
                    removed += documents.delete_documents(self.conn, c, ids)
                    self.conn.execute(
                        "DELETE FROM sources WHERE collection_id = ? AND (path = ? OR substr(path, 1, ?) = ?)",
                        (c.id, path, len(prefix), prefix),
                    )
        return removed

    # -- retrieval ---------------------------------------------------------

    def search(
        self,
        query: str,
        collection: str | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
        rerank: bool | None = None,
    ) -> list[Hit]:
        """The chunks most relevant to ``query``, best first.

        ``rerank`` reorders the best ``settings.rerank_top_n`` candidates with
        the reranker chosen in the settings: True asks for it (an error when
        none is usable), False never, None (default) for hybrid search
        whenever one is chosen. An empty query raises QueryError (a ValueError).
        """
        query = search_mod.check_query(query)
        mode = mode or self.settings.search_mode
        k = k or self.settings.top_k
        reranker = self._reranker_for(mode, rerank)
        if reranker is None:
            return self._search(query, collection, k, mode)
        from ragdesk.reranker import clamp_top_n

        top_n = clamp_top_n(self.settings.rerank_top_n)
        return reranker.rerank(query, self._search(query, collection, max(k, top_n), mode), top_n)[:k]

    def _reranker_for(self, mode: str, rerank: bool | None):
        """The Reranker a search should use, or None (see ``search``)."""
        from ragdesk.reranker import Reranker, RerankerError

        name = self.settings.reranker
        if rerank is False or (rerank is None and (mode != "hybrid" or not name)):
            return None
        if not name:
            raise RerankerError("no reranker is chosen: pull one with `ragdesk models pull --kind reranker "
                                "ms-marco-minilm-l6-v2`, then choose it in the settings.")
        if name not in self._rerankers:
            from ragdesk.llm.registry import ModelError, ModelRegistry

            try:
                entry = ModelRegistry(self.conn).resolve_reranker(name)
            except ModelError as exc:
                if rerank is None:  # a chosen reranker went missing: search on without it
                    log.warning("reranker %r is not usable, searching without it: %s", name, exc)
                    return None
                raise RerankerError(f"the reranker {name!r} is not usable: {exc}") from None
            self._rerankers[name] = Reranker(entry.path)
        return self._rerankers[name]

    def _search(self, query: str, collection: str | None, k: int, mode: str) -> list[Hit]:
        target = self.collection(collection)
        if mode == "bm25":
            return search_mod.search(self.conn, target, query, None, k=k, mode=mode)
        if search_mod.chunk_count(self.conn, target) == 0:
            return []
        keyword = None
        if mode == "hybrid":
            # BM25 needs no query vector: it runs on a second connection while
            # the query is embedded and the vector index searched (all release the GIL).
            keyword = self._keyword_pool().submit(
                search_mod.bm25_ranking, self._reader(), target, query, search_mod.hybrid_depth(k)
            )
        vector = self.embedder(target.embedding_model).encode_query(query)
        return search_mod.search(
            self.conn, target, query, vector, k=k, mode=mode,
            keyword=keyword,
            bits=self._bit_index(target),
            window_bits=self._window_bit_index(target),
        )

    def _bit_index(self, target: Collection):
        """The in-memory mirror of a large collection's bit codes (None for small ones)."""
        if search_mod.chunk_count(self.conn, target) <= search_mod.EXACT_LIMIT:
            self._bits.pop(target.id, None)
            return None
        return self._mirror(target.id, target, windows=False)

    def _window_bit_index(self, target: Collection):
        """The in-memory mirror of a collection's sentence-window codes (None without windows).

        Kept at every size: there are about four windows per chunk, and sqlite-vec's
        exact KNN over tens of thousands of them costs tens of milliseconds.
        """
        key = ("windows", target.id)
        if not target.sentence_windows:
            self._bits.pop(key, None)
            return None
        return self._mirror(key, target, windows=True)

    def _mirror(self, key, target: Collection, *, windows: bool):
        """The cached BitIndex under ``key``, loaded again when the collection's generation moved."""
        from ragdesk.store.bitindex import BitIndex, current_generation

        cached = self._bits.get(key)
        if cached is None or cached.generation != current_generation(self.conn, target):
            cached = self._bits[key] = BitIndex.load(self.conn, target, windows=windows)
        return cached

    def _keyword_pool(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragdesk-bm25")
        return self._pool

    def _reader(self):
        """A second connection, used only by the keyword-search thread."""
        if self._read_conn is None:
            self._read_conn = db.connect(self.db_path, migrate=False)
        return self._read_conn

    def chunk_count(self, collection: str | None = None) -> int:
        return search_mod.chunk_count(self.conn, self.collection(collection))

    def document_text(self, document_id: int) -> str:
        """The extracted text a document's chunk offsets point into."""
        return db.scalar(self.conn, "SELECT text FROM document_texts WHERE document_id = ?", (document_id,)) or ""

    def iter_chunks(self, collection: str | None = None) -> Iterator[Hit]:
        """Every chunk of a collection in document order (score 0)."""
        target = self.collection(collection)
        for row in self.conn.execute(
            "SELECT c.id, c.document_id, d.path, c.page, c.heading, c.start, c.end, c.text, c.ocr_confidence,"
            " d.title FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE d.collection_id = ? ORDER BY d.path, c.ordinal",
            (target.id,),
        ):
            yield Hit(*row[:8], score=0.0, ocr_confidence=row[8], title=row[9])

    def iter_chunk_texts(self, collection: str | None = None) -> Iterator[str]:
        for hit in self.iter_chunks(collection):
            yield hit.text

    def sample_chunks(self, collection: str | None, n: int, *, seed: int = 0, min_tokens: int = 20) -> list[Hit]:
        """A reproducible random sample of substantial chunks (for generated QA sets)."""
        target = self.collection(collection)
        ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
                " WHERE d.collection_id = ? AND c.n_tokens >= ? ORDER BY c.id",
                (target.id, min_tokens),
            )
        ]
        chosen = random.Random(seed).sample(ids, min(n, len(ids)))
        return search_mod.hits_for(self.conn, [search_mod.Ranked(cid, 0.0) for cid in chosen])

    def stats(self) -> dict:
        """Totals for ``ragdesk stats``."""
        infos = self.collections()
        size = self.db_path.stat().st_size if self.db_path.exists() else 0
        wal = Path(str(self.db_path) + "-wal")
        return {
            "database": str(self.db_path),
            "database_bytes": size + (wal.stat().st_size if wal.exists() else 0),
            "collections": len(infos),
            "documents": sum(i.documents for i in infos),
            "chunks": sum(i.chunks for i in infos),
            "conversations": db.scalar(self.conn, "SELECT COUNT(*) FROM conversations"),
            "messages": db.scalar(self.conn, "SELECT COUNT(*) FROM messages"),
            "schema_version": db.scalar(self.conn, "PRAGMA user_version"),
            "home": str(paths.home()),
        }
