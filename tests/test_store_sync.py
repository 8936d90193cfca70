"""Renames keep their vectors, deletions leave nothing behind, ignore rules in reports: real store, real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_store import DOCS, orphan_counts, write_docs

from ragdesk import db


def table_counts(store) -> dict[str, int]:
    """Rows in every table a document lives in."""
    conn = store.conn
    counts = {t: db.scalar(conn, f"SELECT COUNT(*) FROM {t}") for t in ("documents", "document_texts", "chunks")}
    for info in store.collections():
        c = info.collection
        counts[c.vec_table] = db.scalar(conn, f"SELECT COUNT(*) FROM {c.vec_table}")
        counts[c.fts_table] = db.scalar(conn, f"SELECT COUNT(*) FROM {c.fts_table}_docsize")
        counts["running count"] = db.scalar(conn, "SELECT n_chunks FROM collections WHERE id = ?", (c.id,))
    return counts


def chunk_rows(store) -> dict[str, list[tuple[int, bytes]]]:
    """{file name: [(chunk id, vector bytes)]}: what a re-embedding would change."""
    out: dict[str, list] = {}
    for path, chunk_id, blob in store.conn.execute(
        "SELECT d.path, c.id, v.embedding FROM chunks c JOIN documents d ON d.id = c.document_id"
        " JOIN vec_c1 v ON v.chunk_id = c.id ORDER BY c.id"
    ):
        out.setdefault(Path(path).name, []).append((chunk_id, blob))
    return out


def test_rename_and_move_across_folders_keep_chunks_and_vectors(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root])
    before = chunk_rows(store)
    counts = table_counts(store)

    (root / "alpha.txt").rename(root / "renamed.txt")
    (root / "gamma").mkdir(exist_ok=True)
    (root / "beta.md").rename(root / "gamma" / "beta-moved.md")  # across subfolders
    report = store.index([root])
    assert (report.moved, report.added, report.removed, report.chunks_added) == (2, 0, 0, 0)
    assert sorted((c, Path(p).name, Path(o).name) for c, p, o in report.changes) == [
        ("moved", "beta-moved.md", "beta.md"), ("moved", "renamed.txt", "alpha.txt")
    ]
    after = chunk_rows(store)
    # The same chunk ids with the same vectors: nothing was embedded again.
    assert after["renamed.txt"] == before["alpha.txt"]
    assert after["beta-moved.md"] == before["beta.md"]
    assert table_counts(store) == counts
    hit = store.search("Zephyr turbine", k=1, mode="bm25")[0]
    assert hit.path == str(root / "renamed.txt")
    assert store.document_text(hit.document_id)[hit.start : hit.end] == hit.text
    assert orphan_counts(store) == {}


def test_a_copy_is_indexed_as_a_new_file_and_the_original_kept(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root])
    shutil.copy(root / "alpha.txt", root / "alpha-copy.txt")
    report = store.index([root])
    assert (report.added, report.moved) == (1, 0)
    hits = store.search("Zephyr", k=5, mode="bm25")
    # the same text in two files takes one slot that names the other file
    assert len(hits) == 1
    assert {Path(hits[0].path).name, *(Path(c.path).name for c in hits[0].copies)} == {"alpha.txt", "alpha-copy.txt"}


def test_deleted_files_and_folders_are_forgotten_in_every_table(store, tmp_path):
    root = write_docs(tmp_path / "docs", DOCS | {"gamma/epsilon.md": "Tides follow the moon."})
    store.index([root])
    before = table_counts(store)
    assert before["documents"] == 4
    gone = chunk_rows(store)
    (root / "alpha.txt").unlink()
    shutil.rmtree(root / "gamma")
    report = store.index([root])
    assert report.removed == 3
    after = table_counts(store)
    assert after["documents"] == after["document_texts"] == 1
    n_left = len(chunk_rows(store)["beta.md"])
    assert after == {
        "documents": 1, "document_texts": 1, "chunks": n_left, "vec_c1": n_left, "fts_c1": n_left,
        "running count": n_left,
    }
    assert set(chunk_rows(store)) == {"beta.md"} and set(gone) > {"beta.md"}
    assert store.search("Zephyr", k=5, mode="bm25") == []
    assert orphan_counts(store) == {}


def test_sync_changes_applies_a_watcher_batch_within_the_folder_rules(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    (root / ".gitignore").write_text("drafts/\n")
    store.index([root])
    (root / "drafts").mkdir()
    (root / "drafts" / "wip.md").write_text("A draft about volcanoes.")
    (root / "new.md").write_text("Glaciers carve valleys over millennia.")
    (root / "alpha.txt").rename(root / "alpha2.txt")
    (root / "gamma" / "delta.txt").unlink()
    changed = [root / "drafts" / "wip.md", root / "new.md", root / "alpha.txt", root / "alpha2.txt",
               root / "gamma" / "delta.txt"]
    report = store.sync_changes(root, changed)
    assert (report.added, report.moved, report.removed, report.skipped) == (1, 1, 1, [])
    assert report.ignored == [(str(root / "drafts" / "wip.md"), f".gitignore:1 `drafts/` in {root}", False)]
    names = sorted(Path(path).name for (path,) in store.conn.execute("SELECT path FROM documents"))
    assert names == ["alpha2.txt", "beta.md", "new.md"]
    assert orphan_counts(store) == {}


def test_a_folder_renamed_while_being_indexed_is_named_and_nothing_is_lost(store, tmp_path):
    root = write_docs(tmp_path / "docs", {f"sub/n{i}.txt": f"Note {i} about harbour number {i}." for i in range(4)}
                      | {"a.txt": "Lighthouses guide ships.", "z.txt": "Zebras graze on savannas."})
    renamed = tmp_path / "docs" / "sub-renamed"

    def progress(p):
        # As soon as the first file of sub/ is reached, the user renames the folder.
        if p.current.endswith("n0.txt") and (root / "sub").exists():
            (root / "sub").rename(renamed)

    report = store.index([root], progress=progress)
    names = {Path(p).name for p, _ in report.skipped}
    assert all("disappeared" in reason for _, reason in report.skipped)
    indexed = {Path(r[0]).name for r in store.conn.execute("SELECT path FROM documents")}
    assert {"a.txt", "z.txt"} <= indexed  # the rest is indexed
    # The reader thread may have read some of sub/ before the rename: those are indexed
    # under their old path (and follow the folder on the next run); the rest are named.
    assert {f"n{i}.txt" for i in range(1, 4)} <= names | indexed
    # The next run finds everything under its new name.
    again = store.index([root])
    paths = {r[0] for r in store.conn.execute("SELECT path FROM documents")}
    assert {str(renamed / f"n{i}.txt") for i in range(4)} <= paths
    assert not any("/sub/" in p for p in paths)
    assert again.skipped == [] and orphan_counts(store) == {}


def test_newly_ignored_files_leave_the_index(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root])
    (root / ".ragdeskignore").write_text("gamma/\n")
    report = store.index([root])
    assert report.removed == 1
    assert report.ignored == [(str(root / "gamma"), f".ragdeskignore:1 `gamma/` in {root}", True)]
    assert report.ignored_by_rule() == {f".ragdeskignore:1 `gamma/` in {root}": {"folders": 1, "files": 0}}


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"RAGDESK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "ragdesk", *args], capture_output=True, text=True, env=env,
                          check=True, timeout=300)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_index_lists_what_rules_left_out_and_no_ignore_turns_them_off(tmp_path):
    from test_ingest_ignore import make_project

    root = make_project(tmp_path / "proj")
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "node_modules" / "pkg" / "readme.md").write_text("never indexed")
    home = tmp_path / "home"
    text = run_cli(home, "index", "-q", str(root)).stdout
    assert "Left out by rules: 3 folders, 3 files (--verbose lists them):" in text
    assert f"  .gitignore:2 `out/` in {root}: 1 folder\n" in text
    assert "  skip list `node_modules`: 1 folder\n" in text
    assert str(root / "out") not in text.replace(f"`out/` in {root}", "")
    verbose = run_cli(home, "index", "-q", "-v", str(root)).stdout
    assert f"    {root / 'out'}/\n" in verbose and f"    {root / 'src' / 'app.py'}\n" in verbose
    data = json.loads(run_cli(home, "index", "--json", str(root)).stdout)
    assert {"path": str(root / "src" / "app.py"), "rule": f".gitignore:1 `*.py` in {root / 'src'}",
            "folder": False} in data["ignored"]
    assert data["ignored_by_rule"][f".gitignore:2 `out/` in {root}"] == {"folders": 1, "files": 0}
    assert data["added"] == 0 and data["unchanged"] == 5 and data["moved"] == 0
    # --no-ignore: the ignored files come in; the skip list still holds.
    data = json.loads(run_cli(home, "index", "--json", "--no-ignore", str(root)).stdout)
    assert data["added"] == 5 and {i["rule"] for i in data["ignored"]} == {"skip list `node_modules`"}


def test_catch_up_syncs_present_sources_and_leaves_a_missing_one_alone(store, tmp_path):
    here = write_docs(tmp_path / "here")
    drive = write_docs(tmp_path / "drive")
    store.index([here, drive])
    (here / "alpha.txt").unlink()
    (here / "later.md").write_text("Written while the app was closed.")
    drive.rename(tmp_path / "unplugged")  # a drive that is not plugged in at start
    (report,) = store.catch_up()
    assert (report.added, report.removed, report.skipped) == (1, 1, [])
    left = {r[0] for r in store.conn.execute("SELECT path FROM documents")}
    assert {p for p in left if p.startswith(str(drive))} == {str(drive / rel) for rel in DOCS}
