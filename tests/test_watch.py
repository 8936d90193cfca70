"""Live folders with a real watcher (inotify here) on real files, a real store, and `ragdesk watch` as a process."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_store import orphan_counts, write_docs
from test_store_sync import chunk_rows, table_counts

from ragdesk.ingest import IngestRules
from ragdesk.store.changes import ChangeQueue
from ragdesk.store.watcher import FolderWatcher, WatchTarget, sync_batch, targets_for

WAIT_S = 20.0  # generous: the machine may be busy; reached in about a second when it is not


class FakeClock:
    """A clock the test moves by hand, so debounce decisions are checked without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_changes_are_coalesced_and_released_after_a_quiet_period_or_the_max_wait():
    clock = FakeClock()
    q = ChangeQueue(quiet_s=1.0, max_wait_s=5.0, clock=clock)
    assert q.take() is None
    for _ in range(50):  # a save storm: one path, fifty events
        q.add("t", Path("/d/storm.md"))
        clock.now += 0.01
    q.add("t", Path("/d/sub"))
    q.add("t", Path("/d/sub/inner.md"))  # inside a folder already pending: the folder's sync covers it
    assert q.take() is None  # not quiet for long enough yet
    clock.now += 0.99
    assert q.take() is None
    clock.now += 0.02
    assert q.take() == {"t": [Path("/d/storm.md"), Path("/d/sub")]}
    assert q.take() is None and q.events == 52
    # A trickle that never goes quiet is still released after the max wait.
    start = clock.now
    while q.take() is None:
        q.add("u", Path(f"/d/f{clock.now:.1f}.md"))
        clock.now += 0.5
    assert 5.0 <= clock.now - start <= 5.6


def sync_until(watcher: FolderWatcher, store, done, what: str) -> list:
    """Take and apply batches until ``done()``; the reports of every sync on the way."""
    reports = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        batch = watcher.take(timeout=0.1)
        if batch:
            reports += sync_batch(store, batch)
        if done():
            return reports
    raise AssertionError(f"{what}: not in sync within {WAIT_S} s; syncs: {[r.to_json() for r in reports]}")


def doc_paths(store) -> set[str]:
    return {path for (path,) in store.conn.execute("SELECT path FROM documents")}


@pytest.fixture
def watched(store, tmp_path):
    """A folder indexed into the store (the embedding model is loaded) and watched."""
    root = write_docs(tmp_path / "docs")
    (root / ".gitignore").write_text("generated/\n")
    store.index([root])
    # 0.1 s of quiet: the events of one file operation arrive together (microseconds apart), and
    # each step below waits for its batch, so a shorter period only makes the test wait less.
    watcher = FolderWatcher(targets_for(store.sources()), IngestRules.from_settings(store.settings),
                            quiet_s=0.1, max_wait_s=2.0)
    watcher.start()
    yield root, watcher
    watcher.stop()


def test_create_change_rename_move_delete_are_picked_up(store, watched):
    root, watcher = watched
    assert watcher.folders == [root] and watcher.problems == []

    new = root / "new.md"
    new.write_text("Glaciers carve deep valleys over millennia.")
    sync_until(watcher, store, lambda: str(new) in doc_paths(store), "created")
    assert store.search("glaciers valleys", k=1, mode="bm25")[0].path == str(new)

    new.write_text("Volcanoes erupt molten basalt.")
    sync_until(watcher, store, lambda: store.search("basalt", k=1, mode="bm25"), "changed")
    assert store.search("glaciers", k=1, mode="bm25") == []

    # Rename, then move across subfolders: the stored chunks and vectors follow.
    before = chunk_rows(store)["alpha.txt"]
    (root / "alpha.txt").rename(root / "renamed.txt")
    reports = sync_until(watcher, store, lambda: str(root / "renamed.txt") in doc_paths(store), "renamed")
    assert sum(r.moved for r in reports) == 1 and sum(r.chunks_added for r in reports) == 0
    (root / "gamma" / "deeper").mkdir()
    (root / "renamed.txt").rename(root / "gamma" / "deeper" / "moved.txt")
    moved = root / "gamma" / "deeper" / "moved.txt"
    reports = sync_until(watcher, store, lambda: str(moved) in doc_paths(store), "moved")
    assert sum(r.chunks_added for r in reports) == 0
    assert chunk_rows(store)["moved.txt"] == before  # same chunk ids, same vectors: nothing re-embedded

    # A deleted file is forgotten in every table.
    counts = table_counts(store)
    n = len(chunk_rows(store)["beta.md"])
    (root / "beta.md").unlink()
    sync_until(watcher, store, lambda: str(root / "beta.md") not in doc_paths(store), "deleted")
    after = table_counts(store)
    for table in ("chunks", "vec_c1", "fts_c1", "running count"):
        assert after[table] == counts[table] - n, table
    assert after["documents"] == after["document_texts"] == counts["documents"] - 1
    assert orphan_counts(store) == {}


def test_folders_created_renamed_and_deleted(store, watched):
    root, watcher = watched
    folder = root / "notes"
    folder.mkdir()
    for i in range(3):
        (folder / f"n{i}.md").write_text(f"Harbour {i} shelters fishing boats in winter storms number {i}.")
    want = {str(folder / f"n{i}.md") for i in range(3)}
    sync_until(watcher, store, lambda: want <= doc_paths(store), "folder created")
    vectors = {name: rows for name, rows in chunk_rows(store).items() if name.startswith("n")}

    folder.rename(root / "archive")
    want = {str(root / "archive" / f"n{i}.md") for i in range(3)}
    reports = sync_until(watcher, store, lambda: want <= doc_paths(store) and not any(
        p.startswith(str(folder) + os.sep) for p in doc_paths(store)), "folder renamed")
    assert sum(r.chunks_added for r in reports) == 0 and sum(r.moved for r in reports) == 3
    assert {name: rows for name, rows in chunk_rows(store).items() if name.startswith("n")} == vectors

    shutil.rmtree(root / "archive")
    sync_until(watcher, store, lambda: not want & doc_paths(store), "folder deleted")
    assert orphan_counts(store) == {}


def test_ignored_and_skipped_places_cause_no_indexing(store, watched):
    root, watcher = watched
    for rel in ("generated/out.md", "build/x.md", "node_modules/p/readme.md", ".cache/c.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("Output nobody should search.")
    (root / "photo.jpg").write_bytes(b"\xff\xd8not really")
    marker = root / "marker.md"
    marker.write_text("A marker written last, after the ignored files.")
    reports = sync_until(watcher, store, lambda: str(marker) in doc_paths(store), "marker")
    assert doc_paths(store) == {str(root / rel) for rel in ("alpha.txt", "beta.md", "gamma/delta.txt", "marker.md")}
    assert sum(r.added for r in reports) == 1
    # The folder made under generated/ was reported with its rule, not indexed.
    ignored = {(Path(p).name, rule) for r in reports for p, rule, _ in r.ignored}
    assert ("generated", f".gitignore:1 `generated/` in {root}") in ignored


def test_a_save_storm_is_indexed_once(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root])
    watcher = FolderWatcher(targets_for(store.sources()), IngestRules.from_settings(store.settings),
                            quiet_s=1.0, max_wait_s=10.0)
    watcher.start()
    try:
        storm = root / "storm.md"
        for i in range(50):
            storm.write_text(f"Draft {i}: the lighthouse keeper logs every passing ship.")
        done = lambda: store.search("Draft 49", k=1, mode="bm25")  # noqa: E731
        reports = sync_until(watcher, store, done, "storm")
    finally:
        watcher.stop()
    touching = [r for r in reports if any(p == str(storm) for _, p, _ in r.changes)]
    assert len(touching) == 1 and touching[0].added == 1 and touching[0].updated == 0


def test_deleted_while_waiting_to_be_synced_leaves_nothing(store, watched):
    root, watcher = watched
    brief = root / "brief.md"
    brief.write_text("Here for a moment only.")
    brief.unlink()  # gone before its batch is synced
    (root / "stays.md").write_text("Coral reefs host a quarter of marine species.")
    reports = sync_until(watcher, store, lambda: str(root / "stays.md") in doc_paths(store), "stays")
    assert str(brief) not in doc_paths(store)
    assert all(r.skipped == [] for r in reports)  # a deletion is not an error
    assert orphan_counts(store) == {}


def test_single_file_sources_and_nested_sources(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    single = tmp_path / "single.md"
    single.write_text("Kelp forests grow in cold water.")
    store.index([root, root / "gamma", single])
    targets = targets_for(store.sources())
    assert WatchTarget("default", single, is_file=True) in targets
    watcher = FolderWatcher(targets, IngestRules.from_settings(store.settings), quiet_s=0.1)
    watcher.start()
    try:
        (tmp_path / "neighbour.md").write_text("Not a source.")
        single.write_text("Kelp forests shelter sea otters.")
        (root / "gamma" / "inner.md").write_text("Inner folder file about comets.")
        reports = sync_until(watcher, store, lambda: store.search("otters", k=1, mode="bm25") and str(
            root / "gamma" / "inner.md") in doc_paths(store), "single file")
    finally:
        watcher.stop()
    assert str(tmp_path / "neighbour.md") not in doc_paths(store)
    # A change inside a nested source is synced once, through the innermost source.
    assert sum(1 for r in reports for _, p, _ in r.changes if p.endswith("inner.md")) == 1


def test_a_folder_that_cannot_be_watched_is_named_and_the_others_are_watched(store, tmp_path):
    kept = write_docs(tmp_path / "kept")
    gone = write_docs(tmp_path / "gone")
    store.index([kept, gone])
    targets = targets_for(store.sources())
    shutil.rmtree(gone)  # removed between reading the sources and watching them
    watcher = FolderWatcher(targets, IngestRules.from_settings(store.settings), quiet_s=0.1)
    watcher.start()
    try:
        assert [p for p, _ in watcher.problems] == [str(gone)]
        assert watcher.problems[0][1].startswith("cannot watch: no such file")
        (kept / "later.md").write_text("Sea ice thins each summer.")
        sync_until(watcher, store, lambda: str(kept / "later.md") in doc_paths(store), "kept folder")
    finally:
        watcher.stop()


def start_watch(home: Path, *args: str) -> tuple[subprocess.Popen, queue.Queue]:
    env = os.environ | {"RAGDESK_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "ragdesk", "watch", "--json", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(line)) for line in proc.stdout], daemon=True).start()
    return proc, lines


def next_event(lines: queue.Queue, kind: str, proc: subprocess.Popen, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = lines.get(timeout=0.5)
        except queue.Empty:
            assert proc.poll() is None, proc.stderr.read()
            continue
        if event["event"] == kind:
            return event
    raise AssertionError(f"no {kind!r} event within {timeout} s")


@pytest.mark.slow
def test_ragdesk_watch_runs_headless_and_stops_cleanly_on_sigint_and_sigterm(tmp_path):
    root = write_docs(tmp_path / "docs")
    home = tmp_path / "home"
    proc, lines = start_watch(home, str(root), "--quiet-period", "0.3")
    try:
        assert next_event(lines, "catch-up", proc)["added"] == 3
        assert next_event(lines, "watching", proc)["folders"] == [str(root)]
        (root / "fresh.md").write_text("Auroras glow over polar skies.")
        sync = next_event(lines, "sync", proc)
        assert sync["changes"] == [{"change": "added", "path": str(root / "fresh.md"), "from": None}]
        proc.send_signal(signal.SIGINT)
        stopped = next_event(lines, "stopped", proc, timeout=60)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (stopped["added"], stopped["syncs"], stopped["folders"]) == (4, 2, 1)

    # No folders named: every source of the collection; SIGTERM stops it as cleanly.
    (root / "alpha.txt").unlink()  # while nothing watched: the catch-up sees it
    proc, lines = start_watch(home)
    try:
        assert next_event(lines, "catch-up", proc)["removed"] == 1
        next_event(lines, "watching", proc)
        proc.send_signal(signal.SIGTERM)
        assert next_event(lines, "stopped", proc, timeout=60)["removed"] == 1
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ragdesk_watch_with_nothing_to_watch_says_so(tmp_path):
    from click.testing import CliRunner

    from ragdesk.cli import cli

    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "watch"])  # in process: no new Python
    assert result.exit_code == 1 and "nothing to watch" in result.stderr
