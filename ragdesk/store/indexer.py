"""Incremental sync of folders into a collection.

A file is re-read only when its size or mtime changed, and re-embedded only
when its content hash changed too (a touched but identical file costs a hash).
A new file whose content hash is that of a stored document whose file is gone
is a rename or move: the document takes the new path and keeps its chunks and
vectors. Files that disappeared lose their rows. Work is committed in batches, each in
one transaction, so killing the process mid-run leaves a consistent database
and the next run picks up exactly what is missing.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from ragdesk import db
from ragdesk.ingest import FileEntry, IngestRules, SkipFile, Skipped, extract, load, walk
from ragdesk.ingest.context import embedding_text
from ragdesk.ingest.errors import Cancelled
from ragdesk.ingest.reading import Reading
from ragdesk.ingest.windows import chunk_windows, per_chunk
from ragdesk.store import documents
from ragdesk.store.collections import Collection
from ragdesk.store.documents import PreparedDocument
from ragdesk.store.reader import Prepared, ReadAhead

# Tokens of chunks embedded per encode call and committed per transaction (the
# embedder splits them into batches of similar length; see ragdesk.embedding.batching).
COMMIT_TOKENS = 16384  # about 80 full chunks: a crash loses at most a few seconds of work
WINDOW_FILL_DOCUMENTS = 32  # documents whose chunks' windows fill_windows embeds and commits together


@dataclass
class IndexProgress:
    """A snapshot of an indexing run, for progress bars."""

    phase: str  # "scanning" | "indexing" | "removing" | "done"
    files_total: int = 0
    files_done: int = 0
    chunks_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    current: str = ""
    detail: str = ""  # what is happening inside the current file ("OCR page 12/50"), if anything slow
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        """Chunks embedded per second so far."""
        return self.chunks_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left, estimated from the bytes still to read."""
        if self.bytes_done <= 0 or self.elapsed_s <= 0:
            return None
        return (self.bytes_total - self.bytes_done) * self.elapsed_s / self.bytes_done


@dataclass
class IndexReport:
    """What one run did, for the summary line and the skipped-files list."""

    collection: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    touched: int = 0  # mtime changed but content identical: not re-embedded
    removed: int = 0
    chunks_added: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # indexed, but only in part
    unsupported: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    moved: int = 0  # renamed or moved: the stored chunks and vectors follow, nothing re-embedded
    ignored: list[tuple[str, str, bool]] = field(default_factory=list)  # (path, rule, is a folder)
    changes: list[tuple[str, str, str | None]] = field(default_factory=list)  # (what, path, moved from)
    dropped: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # (path, {chrome kind: chars})
    windows_filled: int = 0  # chunks indexed earlier that got their sentence windows in this run

    def ignored_by_rule(self) -> dict[str, dict[str, int]]:
        """``{rule: {"folders": n, "files": m}}`` in the order rules were first met."""
        counts: dict[str, dict[str, int]] = {}
        for _path, rule, folder in self.ignored:
            entry = counts.setdefault(rule, {"folders": 0, "files": 0})
            entry["folders" if folder else "files"] += 1
        return counts

    def to_json(self) -> dict:
        return {
            "collection": self.collection,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "touched": self.touched,
            "removed": self.removed,
            "chunks_added": self.chunks_added,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "warnings": [{"path": p, "message": m} for p, m in self.warnings],
            "unsupported": self.unsupported,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "moved": self.moved,
            "ignored": [{"path": p, "rule": r, "folder": f} for p, r, f in self.ignored],
            "ignored_by_rule": self.ignored_by_rule(),
            "changes": [{"change": c, "path": p, "from": old} for c, p, old in self.changes],
            "dropped": [{"path": p, "what": list(kinds), "chars": sum(kinds.values())} for p, kinds in self.dropped],
            "windows_filled": self.windows_filled,
        }


ProgressFn = Callable[[IndexProgress], None]
CancelFn = Callable[[], bool]


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class Indexer:
    """Brings one collection in line with a set of files and folders."""

    def __init__(
        self,
        conn: apsw.Connection,
        collection: Collection,
        rules: IngestRules,
        embedder,  # ragdesk.embedder.Embedder; only touched when something must be embedded
        *,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> None:
        self.conn = conn
        self.collection = collection
        self.rules = rules
        self.embedder = embedder
        self.progress = progress or (lambda p: None)
        self.cancel = cancel or (lambda: False)
        self._chunker = None
        self._known: dict[str, documents.KnownDocument] = {}
        self._by_hash: dict[str, list[documents.KnownDocument]] | None = None  # built at the first new file
        self._hash_lock = threading.Lock()
        self._emit_lock = threading.Lock()  # the reader thread reports OCR pages too
        self._moved_ids: set[int] = set()
        self._state = IndexProgress("scanning")
        self._started = time.monotonic()

    @property
    def chunker(self):
        if self._chunker is None:
            from ragdesk.ingest import Chunker

            self._chunker = Chunker(
                self.embedder.tokenizer(),
                chunk_tokens=self.collection.chunk_tokens,
                overlap_tokens=self.collection.chunk_overlap,
            )
        return self._chunker

    def _emit(self, **changes) -> None:
        with self._emit_lock:
            for key, value in changes.items():
                setattr(self._state, key, value)
            self._state.elapsed_s = time.monotonic() - self._started
            self.progress(self._state)

    def run(
        self, roots: Iterable[Path], *, within: Path | None = None, missing_ok: bool | None = None
    ) -> IndexReport:
        """Index ``roots`` (files or folders) into the collection.

        ``within`` is the watched folder the roots were reported in: the rules
        then apply to the roots too. With ``missing_ok`` (the default when
        ``within`` is given) a root that no longer exists is a deletion (its
        rows go), not an error.
        """
        if missing_ok is None:
            missing_ok = within is not None
        report = IndexReport(self.collection.name)
        roots = [Path(os.path.abspath(os.path.expanduser(str(r)))) for r in roots]
        self._emit(phase="scanning")
        known = documents.known_documents(self.conn, self.collection)
        self._known = known
        entries: list[FileEntry] = []
        seen: set[str] = set()
        for item in walk(roots, self.rules, within=within, missing_ok=missing_ok):
            if isinstance(item, Skipped):
                if item.kind == "unsupported":
                    report.unsupported += 1
                elif item.kind == "ignored":
                    report.ignored.append((str(item.path), item.reason, item.folder))
                else:
                    report.skipped.append((str(item.path), item.reason))
                continue
            entries.append(item)
            seen.add(str(item.path))

        todo: list[FileEntry] = []
        for entry in entries:
            old = known.get(str(entry.path))
            if old is not None and old.size == entry.size and old.mtime_ns == entry.mtime_ns:
                report.unchanged += 1
            else:
                todo.append(entry)
        self._emit(
            phase="indexing",
            files_total=len(todo),
            bytes_total=sum(e.size for e in todo),
        )
        self._index_files(todo, known, report)

        if not report.cancelled:
            # Rows of files that are gone, or no longer indexable, under these roots.
            # A file that failed to *load* this time keeps its rows: it may be a
            # passing fault (a file being written), not a removal.
            root_strs = [str(r) for r in roots]
            stale = [
                doc
                for path, doc in known.items()
                if _under(path, root_strs) and path not in seen and doc.id not in self._moved_ids
            ]
            if stale:
                self._emit(phase="removing")
                with db.transaction(self.conn):
                    report.removed += documents.delete_documents(self.conn, self.collection, [d.id for d in stale])
                report.changes += [("removed", doc.path, None) for doc in stale]
            report.windows_filled, finished = self.fill_windows()
            report.cancelled = not finished
        report.seconds = time.monotonic() - self._started
        self._emit(phase="done")
        return report

    def _index_files(self, todo: list[FileEntry], known, report: IndexReport) -> None:
        batch: list[tuple[PreparedDocument, int | None]] = []
        batch_tokens = 0
        with ReadAhead(todo, self._prepare) as files:
            for item in files:
                if self.cancel():
                    report.cancelled = True
                    break
                if item.failure is not None:
                    raise item.failure
                if item.cancelled:  # cancelled while the reader had it in hand
                    report.cancelled = True
                    break
                entry = item.entry
                path = str(entry.path)
                self._emit(current=path, detail="")
                old = known.get(path)
                if old is not None and old.id in self._moved_ids:
                    old = None  # its document moved to another path earlier in this run
                if item.load_error is not None:
                    report.skipped.append((path, item.load_error))
                    self._advance(entry)
                    continue
                loaded = item.loaded
                if old is None and self._move_here(path, loaded, report):
                    self._advance(entry)
                    continue
                if old is not None and old.sha256 == loaded.sha256:
                    with db.transaction(self.conn):
                        documents.touch_document(self.conn, old.id, loaded.size, loaded.mtime_ns)
                    report.touched += 1
                    self._advance(entry)
                    continue
                if item.needs_extract:  # the reader expected a move or a touch that did not happen
                    self._extract(item)
                if item.cancelled:
                    report.cancelled = True
                    break
                if item.extract_error is not None:
                    report.skipped.append((path, item.extract_error))
                    if old is not None:
                        with db.transaction(self.conn):
                            report.removed += documents.delete_documents(self.conn, self.collection, [old.id])
                    self._advance(entry)
                    continue
                chunks, extracted = item.chunks, item.extracted
                if not chunks:
                    report.skipped.append((path, "no text to index"))
                    self._advance(entry)
                    continue
                report.warnings += [(path, note) for note in extracted.notes]
                if extracted.dropped:
                    report.dropped.append((path, dict(extracted.dropped)))
                doc = PreparedDocument(
                    path=path,
                    kind=extracted.kind,
                    size=loaded.size,
                    mtime_ns=loaded.mtime_ns,
                    sha256=loaded.sha256,
                    text=extracted.text,
                    chunks=chunks,
                    title=extracted.title,
                )
                batch.append((doc, old.id if old is not None else None))
                batch_tokens += sum(c.n_tokens for c in chunks)
                if batch_tokens >= COMMIT_TOKENS:
                    self._flush(batch, report)
                    batch, batch_tokens = [], 0
                self._advance(entry, count_file=False)
        if batch:
            self._flush(batch, report)

    def _prepare(self, entry: FileEntry) -> Prepared:
        """Reader thread: load, then extract and chunk unless the file is likely a touch or a move."""
        item = Prepared(entry)
        if self.cancel():
            item.cancelled = True
            return item
        try:
            item.loaded = load(entry, self.rules)
        except SkipFile as exc:
            item.load_error = str(exc)
            return item
        old = self._known.get(str(entry.path))
        if old is not None and old.sha256 == item.loaded.sha256:
            return item  # unchanged content: only its mtime will be updated
        if old is None and self._move_source(item.loaded.sha256) is not None:
            return item  # probably a rename: the stored chunks follow it
        self._extract(item)
        return item

    def _extract(self, item: Prepared) -> None:
        try:
            reading = self._reading(str(item.entry.path))
            item.extracted = extract(item.loaded, reading, drop_chrome=self.rules.drop_chrome)
            item.chunks = self.chunker.chunk(item.extracted)
        except Cancelled:
            item.cancelled = True
        except SkipFile as exc:
            item.extract_error = str(exc)

    def _reading(self, path: str) -> Reading:
        """Progress inside one file (OCR pages) goes out as ``detail``; cancelling stops between pages.

        The reader thread may extract a file before the indexing thread takes it up,
        so its progress names that file as ``current`` (the user sees which file is
        being read by OCR, and Cancel reaches it between pages).
        """
        return Reading(progress=lambda detail: self._emit(current=path, detail=detail), cancel=self.cancel)

    def _move_source(self, sha256: str):
        """A stored document with this content whose file is gone (so this is a move), or None."""
        with self._hash_lock:
            if self._by_hash is None:
                self._by_hash = defaultdict(list)
                for doc in self._known.values():
                    self._by_hash[doc.sha256].append(doc)
        for doc in self._by_hash.get(sha256, ()):
            if doc.id not in self._moved_ids and not os.path.lexists(doc.path):
                return doc  # not a copy: the original is gone
        return None

    def _move_here(self, path: str, loaded, report: IndexReport) -> bool:
        """Give ``path`` the document of a vanished file with the same content; False if there is none."""
        doc = self._move_source(loaded.sha256)
        if doc is None:
            return False
        with db.transaction(self.conn):
            moved = documents.move_document(self.conn, doc.id, path, loaded.size, loaded.mtime_ns)
        if not moved:
            return False  # another run got there first; index the file normally
        self._moved_ids.add(doc.id)
        report.moved += 1
        report.changes.append(("moved", path, doc.path))
        return True

    def _advance(self, entry: FileEntry, *, count_file: bool = True) -> None:
        self._state.bytes_done += entry.size
        if count_file:
            self._state.files_done += 1
        self._emit()

    def _flush(self, batch: list[tuple[PreparedDocument, int | None]], report: IndexReport) -> None:
        """Embed a batch of documents and commit them in one transaction."""
        if self.rules.chunk_context:
            texts = [embedding_text(doc.title, chunk.heading, chunk.text) for doc, _ in batch for chunk in doc.chunks]
        else:
            texts = [chunk.text for doc, _ in batch for chunk in doc.chunks]
        windows = (
            [w for doc, _ in batch for w in chunk_windows(doc.text, [(c.start, c.end) for c in doc.chunks])]
            if self.collection.sentence_windows else None
        )
        vectors, window_vectors = self._embed(texts, windows)
        offset = 0
        with db.transaction(self.conn):
            for doc, replaces in batch:
                n = len(doc.chunks)
                written = documents.write_document(
                    self.conn, self.collection, doc, vectors[offset : offset + n], replaces,
                    window_vectors[offset : offset + n] if window_vectors is not None else None,
                )
                offset += n
                if written is None:
                    report.unchanged += 1  # another run indexed the same content meanwhile
                    continue
                if replaces is None:
                    report.added += 1
                else:
                    report.updated += 1
                report.changes.append(("added" if replaces is None else "updated", doc.path, None))
                report.chunks_added += n
        self._emit(
            files_done=self._state.files_done + len(batch),
            chunks_done=self._state.chunks_done + len(texts),
        )

    def _embed(self, texts: list[str], windows: list[list[str]] | None):
        """Vectors of the chunk texts and, when given, of each chunk's windows (one encode call, so batches fill)."""
        flat = [w for of_chunk in windows or [] for w in of_chunk]
        vectors = self.embedder.encode(texts + flat)
        if windows is None:
            return vectors, None
        return vectors[: len(texts)], per_chunk(vectors[len(texts) :], windows)

    def fill_windows(self) -> tuple[int, bool]:
        """Embed the sentence windows of the collection's chunks that lack them.

        Returns how many chunks got them and whether none is left (False when
        cancelled). Chunks indexed before windows were turned on get them here,
        a few documents per transaction, so a killed run leaves whole chunks
        done and the next run does the rest. A chunk without windows gets an
        empty blob.
        """
        if not self.collection.sentence_windows:
            return 0, True
        waiting = (
            " FROM chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE d.collection_id = ? AND c.window_embeddings IS NULL"
        )
        total = None
        done = 0
        while True:
            doc_ids = [r[0] for r in self.conn.execute(
                f"SELECT DISTINCT c.document_id{waiting} ORDER BY c.document_id LIMIT ?",
                (self.collection.id, WINDOW_FILL_DOCUMENTS),
            )]
            if not doc_ids:
                break
            if self.cancel():
                return done, False
            if total is None:
                total = db.scalar(self.conn, f"SELECT COUNT(*){waiting}", (self.collection.id,))
            self._emit(phase="indexing", current="", detail=f"sentence windows: {done:,} of {total:,} chunks")
            todo: list[tuple[int, list[str]]] = []  # (chunk id, its windows) of chunks still waiting
            for doc_id in doc_ids:
                text = db.scalar(self.conn, "SELECT text FROM document_texts WHERE document_id = ?", (doc_id,)) or ""
                rows = self.conn.execute(
                    "SELECT id, start, end, window_embeddings IS NULL FROM chunks WHERE document_id = ? ORDER BY ordinal",
                    (doc_id,),
                ).fetchall()
                windows = chunk_windows(text, [(start, end) for _, start, end, _ in rows])
                todo += [(row[0], w) for row, w in zip(rows, windows) if row[3]]
            _, window_vectors = self._embed([], [w for _, w in todo])
            with db.transaction(self.conn):
                for (chunk_id, _), vectors in zip(todo, window_vectors):
                    still_waiting = self.conn.execute(
                        "SELECT 1 FROM chunks WHERE id = ? AND window_embeddings IS NULL", (chunk_id,)
                    ).fetchone()
                    if still_waiting:  # not removed or filled by another process meanwhile
                        documents.write_windows(self.conn, self.collection, chunk_id, vectors)
                # Searches rebuild their in-memory mirror of the window codes.
                self.conn.execute("UPDATE collections SET generation = generation + 1 WHERE id = ?",
                                  (self.collection.id,))
            done += len(todo)
        if done:
            self._emit(detail="")
        return done, True
