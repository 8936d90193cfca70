"""Two indexing runs at once on the same new collection: both succeed, every file lands once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import apsw
import pytest

RAGDESK = [sys.executable, "-m", "ragdesk"]


def _write_notes(folder: Path, prefix: str, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        path = folder / f"{prefix}{i:02}.txt"
        path.write_text(
            f"{prefix} note {i}. The lighthouse keeper logged {i % 7} ships and a {['calm', 'rough'][i % 2]} sea; "
            f"the lamp was trimmed at {18 + i % 5} o'clock and the log was signed by keeper {prefix.upper()}{i}."
        )
        paths.append(path)
    return paths


def _check_consistent(db_path: Path, collection: str, expected: set[str]) -> None:
    """Each expected file is one document; chunks, vectors, BM25 rows and counters agree."""
    conn = apsw.Connection(str(db_path))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = [r[0] for r in conn.execute("SELECT name FROM collections")]
        assert names == [collection]
        cid, n_chunks = conn.execute("SELECT id, n_chunks FROM collections WHERE name = ?", (collection,)).fetchone()
        paths = [r[0] for r in conn.execute("SELECT path FROM documents WHERE collection_id = ?", (cid,))]
        assert sorted(paths) == sorted(expected)  # every file, none twice
        chunks = conn.execute(
            "SELECT COUNT(*) FROM chunks JOIN documents d ON d.id = document_id WHERE d.collection_id = ?", (cid,)
        ).fetchone()[0]
        doc_chunks = conn.execute("SELECT SUM(n_chunks) FROM documents WHERE collection_id = ?", (cid,)).fetchone()[0]
        fts_rows = conn.execute(f"SELECT COUNT(*) FROM fts_c{cid}_docsize").fetchone()[0]
        vec_rows = conn.execute(f"SELECT COUNT(*) FROM vec_c{cid}_rowids").fetchone()[0]
        assert chunks == doc_chunks == n_chunks == fts_rows == vec_rows > 0
    finally:
        conn.close()


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_two_cli_runs_create_the_same_new_collection_and_index_overlapping_folders(tmp_path):
    home = tmp_path / "home"
    shared = _write_notes(tmp_path / "shared", "s", 12)
    only1 = _write_notes(tmp_path / "one", "a", 6)
    only2 = _write_notes(tmp_path / "two", "b", 6)
    # Both start before either has created the database or the collection: the
    # embedding model loads for seconds between the look and the insert.
    runs = [
        subprocess.Popen([*RAGDESK, "--home", str(home), "index", str(tmp_path / "shared"), str(tmp_path / folder),
                          "--collection", "c1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for folder in ("one", "two")
    ]
    reports = []
    for proc in runs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    expected = {str(p) for p in shared + only1 + only2}
    assert sum(r["added"] for r in reports) == len(expected)  # a shared file is added by one run only
    assert sum(r["added"] + r["unchanged"] for r in reports) == len(expected) + len(shared)
    assert all(not r["skipped"] for r in reports)
    _check_consistent(home / "ragdesk.db", "c1", expected)

    again = subprocess.run([*RAGDESK, "--home", str(home), "index", str(tmp_path / "shared"), "-c", "c1", "--json"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and json.loads(again.stdout)["unchanged"] == len(shared)


def test_a_file_another_run_wrote_meanwhile_is_not_written_twice(tmp_path, ragdesk_home):
    """Run B indexes the folder after run A has looked at the database and before A writes."""
    from ragdesk.store import KnowledgeStore

    files = _write_notes(tmp_path / "docs", "n", 5)
    (tmp_path / "docs" / "n00.txt").write_text("Changed under run B: the keeper saw a comet over the bay.")
    interleaved = []

    def run_b_once(progress):
        if progress.phase == "indexing" and not interleaved:
            with KnowledgeStore() as b:
                interleaved.append(b.index([tmp_path / "docs"], "c1"))

    with KnowledgeStore() as a:
        a.ensure_collection("c1")
        report_a = a.index([tmp_path / "docs"], "c1", progress=run_b_once)
        assert interleaved[0].added == len(files)
        assert report_a.added == 0 and report_a.unchanged == len(files)
        hits = a.search("comet over the bay", "c1", k=1)
        assert hits[0].path.endswith("n00.txt")
    _check_consistent(ragdesk_home / "ragdesk.db", "c1", {str(p) for p in files})
