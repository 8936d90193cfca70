"""Indexing with a reader thread ahead of the embedder: same chunks, errors named, cancellation consistent."""

from __future__ import annotations

import threading
from pathlib import Path

from test_store import orphan_counts

from ragdesk import db
from ragdesk.ingest import Chunker, IngestRules, extract, load, walk
from ragdesk.ingest.walker import FileEntry
from ragdesk.store.reader import Prepared, ReadAhead

SAMPLES = Path(__file__).resolve().parents[1] / "ragdesk" / "sample_docs"


def make_folder(root: Path, files: int = 60) -> Path:
    """Sample documents (txt, md, html) copied many times with distinct text, and one broken PDF."""
    samples = sorted(SAMPLES.iterdir())
    for i in range(files):
        src = samples[i % len(samples)]
        sub = root / f"part{i // 20}"
        sub.mkdir(parents=True, exist_ok=True)
        text = src.read_text(encoding="utf-8")
        (sub / f"{src.stem}-{i:03}{src.suffix}").write_text(text.replace("lantern", f"lantern {i}"), encoding="utf-8")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a PDF")
    return root


def stored_chunks(store) -> dict[str, list[str]]:
    rows = store.conn.execute(
        "SELECT d.path, c.text FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY d.path, c.id"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for path, text in rows:
        out.setdefault(path, []).append(text)
    return out


def test_pipeline_stores_exactly_the_chunks_of_reading_inline(store, tmp_path):
    folder = make_folder(tmp_path / "docs")
    report = store.index([folder])
    assert report.added == 60 and report.chunks_added > 60
    assert [Path(p).name for p, _ in report.skipped] == ["broken.pdf"]  # the error is still named

    coll = store.collection()
    rules = IngestRules.from_settings(store.settings)
    chunker = Chunker(store.embedder(coll.embedding_model).tokenizer(), coll.chunk_tokens, coll.chunk_overlap)
    expected = {}
    for entry in walk([folder], rules):
        if entry.path.suffix == ".pdf":
            continue
        expected[str(entry.path)] = [c.text for c in chunker.chunk(extract(load(entry, rules)))]
    assert stored_chunks(store) == expected
    assert orphan_counts(store) == {}


def test_cancelling_mid_run_leaves_a_consistent_db_that_the_next_run_completes(store, tmp_path):
    folder = make_folder(tmp_path / "docs", files=120)
    stop = threading.Event()
    seen: set[str] = set()

    def progress(p):
        seen.add(p.current)
        if len(seen) >= 30:  # the indexing thread has taken 30 files from the reader
            stop.set()

    first = store.index([folder], progress=progress, cancel=stop.is_set)
    assert first.cancelled
    done = db.scalar(store.conn, "SELECT COUNT(*) FROM documents")
    assert 0 < done < 120
    assert orphan_counts(store) == {}

    second = store.index([folder])
    assert not second.cancelled
    assert second.added == 120 - done
    assert db.scalar(store.conn, "SELECT COUNT(*) FROM documents") == 120
    assert orphan_counts(store) == {}


def test_read_ahead_keeps_order_and_stops_early_without_hanging(tmp_path):
    entries = []
    for i in range(200):
        path = tmp_path / f"f{i}.txt"
        path.write_text("x" * 1000)
        entries.append(FileEntry(path, 1000, 0))
    prepared_by = set()

    def prepare(entry):
        prepared_by.add(threading.current_thread().name)
        return Prepared(entry)

    with ReadAhead(entries, prepare, depth=4, max_bytes=2500) as files:
        got = [item.entry.path for item in files]
    assert got == [e.path for e in entries]
    assert prepared_by == {"ragdesk-index-reader"}

    with ReadAhead(entries, prepare, depth=4) as files:  # the consumer leaves early: close() must not hang
        for n, _item in enumerate(files):
            if n == 3:
                break

    def explode(entry):
        raise RuntimeError(f"bug while reading {entry.path.name}")

    with ReadAhead(entries, explode) as files:
        items = list(files)
    assert len(items) == 1 and isinstance(items[0].failure, RuntimeError)

