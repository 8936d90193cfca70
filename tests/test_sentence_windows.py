"""Sentence windows: a vector per two-sentence window of each chunk, on a real SQLite file with sqlite-vec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ragdesk import db
from ragdesk.ingest.windows import MAX_WINDOWS, WINDOW_SLOTS, chunk_windows, sentences
from ragdesk.store import search as search_module

# Sentences about other things around the two that answer the question: the
# chunk's own vector is mostly about the other things.
FILLER = [
    f"The {w} committee reviewed quarterly {w} budgets, {w} audits and {w} procurement rules in detail."
    for w in ("harbour", "railway", "library", "museum", "orchard", "quarry", "bakery", "tannery", "foundry", "dairy")
]
ANSWER = ["Kestrels hover facing into the wind while hunting voles.", "Their hovering wings beat rapidly in wind."]
QUERY = "kestrels hovering wind hunting"
BIRDS = " ".join(FILLER[:4] + ANSWER + FILLER[4:8])  # one chunk
DECOY = "Wind. Kestrels nest on cliffs near turbines and farms."


def window_rows(store, collection) -> int:
    return db.scalar(store.conn, f"SELECT COUNT(*) FROM {collection.win_table}")


def windows_of_chunks(store, collection) -> dict[int, list[str]]:
    """Every chunk's windows as ``chunk_windows`` files them, from the stored documents."""
    out = {}
    for doc_id, text in store.conn.execute(
        "SELECT t.document_id, t.text FROM document_texts t JOIN documents d ON d.id = t.document_id"
        " WHERE d.collection_id = ?",
        (collection.id,),
    ).fetchall():
        rows = store.conn.execute("SELECT id, start, end FROM chunks WHERE document_id = ? ORDER BY ordinal",
                                  (doc_id,)).fetchall()
        out.update(zip([r[0] for r in rows], chunk_windows(text, [(s, e) for _, s, e in rows])))
    return out


def expected_windows(store, collection) -> int:
    return sum(len(w) for w in windows_of_chunks(store, collection).values())


def waiting_chunks(store, collection) -> int:
    return db.scalar(
        store.conn,
        "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE d.collection_id = ? AND c.window_embeddings IS NULL",
        (collection.id,),
    )


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_windows_are_pairs_of_consecutive_sentences_filed_where_they_start():
    text = "A title\n\nFirst one here. Second one? Third one! Fourth\n\nFifth: a list\n- item"
    assert sentences(text) == ["A title", "First one here.", "Second one?", "Third one!", "Fourth",
                               "Fifth: a list - item"]
    # Two overlapping chunks; the second starts mid-sentence ("one here."), as chunk overlaps do.
    second = text.index("one here.")
    assert chunk_windows(text, [(0, text.index("Third")), (second, len(text))]) == [
        ["A title First one here.", "First one here. Second one?", "Second one? Third one!"],
        ["Third one! Fourth", "Fourth Fifth: a list - item", "Fifth: a list - item"],
    ]
    # One sentence: its window would be its chunk.
    assert chunk_windows("Just one sentence.", [(0, 18)]) == [[]]
    assert chunk_windows("", []) == []
    many = " ".join(f"Sentence number {i}." for i in range(200))
    assert [len(w) for w in chunk_windows(many, [(0, len(many))])] == [MAX_WINDOWS]
    assert MAX_WINDOWS <= WINDOW_SLOTS


def test_windows_are_written_replaced_and_removed_with_their_chunks(store, tmp_path):
    store.settings.sentence_windows = True
    folder = write(tmp_path / "docs", {
        "birds.txt": BIRDS,
        "short.txt": "Only one sentence here.",
    })
    report = store.index([folder])
    collection = store.collection()
    assert collection.sentence_windows and report.added == 2
    assert window_rows(store, collection) == expected_windows(store, collection) > 0
    assert waiting_chunks(store, collection) == 0  # every chunk is done (an empty blob when it has no window)

    (folder / "birds.txt").write_text(" ".join(ANSWER + FILLER[:4]), encoding="utf-8")
    assert store.index([folder]).updated == 1
    assert window_rows(store, collection) == expected_windows(store, collection)

    (folder / "birds.txt").unlink()
    assert store.index([folder]).removed == 1
    assert window_rows(store, collection) == expected_windows(store, collection) == 0
    # Nothing points at a chunk that is gone.
    ids = [r[0] for r in store.conn.execute(f"SELECT window_id FROM {collection.win_table}")]
    chunk_ids = {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    assert all(i // WINDOW_SLOTS in chunk_ids for i in ids)


def test_a_chunk_is_found_by_its_best_window(store, tmp_path):
    folder = write(tmp_path / "docs", {
        "birds.txt": BIRDS,
        # Two query words among few others: nearer than the long chunk's blurred vector.
        "decoy.txt": DECOY,
    })
    store.index([folder])
    birds_chunk = db.scalar(store.conn, "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
                            " WHERE d.path LIKE '%birds.txt'")
    without = store.search(QUERY, k=2, mode="vector")
    assert Path(without[0].path).name == "decoy.txt"

    store.set_sentence_windows(None, True)
    assert store.index([folder]).windows_filled == 2
    with_windows = store.search(QUERY, k=2, mode="vector")
    assert Path(with_windows[0].path).name == "birds.txt"
    top = with_windows[0]
    assert top.chunk_id == birds_chunk
    # Scored by its best window; its similarity stays the chunk's own cosine.
    assert top.score > top.similarity == pytest.approx(
        next(h.similarity for h in without if h.chunk_id == birds_chunk), abs=1e-5)
    assert Path(store.search(QUERY, k=1, mode="hybrid")[0].path).name == "birds.txt"

    # Off again: the table goes, the chunks forget their windows, the ranking is the chunks' own.
    store.set_sentence_windows(None, False)
    assert waiting_chunks(store, store.collection()) == 2
    assert not db.scalar(store.conn, "SELECT COUNT(*) FROM sqlite_master WHERE name = ?",
                         (store.collection().win_table,))
    assert [h.chunk_id for h in store.search(QUERY, k=2, mode="vector")] == [h.chunk_id for h in without]
    # And on again: the search's in-memory mirror of the window codes follows.
    store.set_sentence_windows(None, True)
    assert store.index([folder]).windows_filled == 2
    assert store.search(QUERY, k=1, mode="vector")[0].chunk_id == birds_chunk


def test_a_collection_with_windows_fuses_by_its_own_rule(store, tmp_path):
    from ragdesk.store import fusion

    store.index([write(tmp_path / "docs", {"birds.txt": BIRDS, "decoy.txt": DECOY})])
    # Without windows: reciprocal-rank fusion, k=10, at most 1/11 + 0.85/11.
    assert all(h.score <= 1.85 / 11 + 1e-9 for h in store.search(QUERY, k=2, mode="hybrid"))

    store.set_sentence_windows(None, True)
    store.index([tmp_path / "docs"])
    rule = fusion.tuned_rule(True)
    assert rule is fusion.WINDOWS_TUNED and rule.method == "convex"
    vector = {h.chunk_id: h.score for h in store.search(QUERY, k=5, mode="vector")}
    bm25 = {h.chunk_id: h.score for h in store.search(QUERY, k=5, mode="bm25")}
    hits = store.search(QUERY, k=2, mode="hybrid")
    assert len(hits) == 2 and Path(hits[0].path).name == "birds.txt"
    for hit in hits:  # each list's score scaled by its best, BM25 weighted by the rule
        expected = (vector.get(hit.chunk_id, 0.0) / max(vector.values())
                    + rule.w_bm25 * bm25.get(hit.chunk_id, 0.0) / max(bm25.values()))
        assert hit.score == pytest.approx(expected, abs=1e-5)


def test_the_coarse_path_of_large_collections_finds_windows_too(store, tmp_path, monkeypatch):
    store.settings.sentence_windows = True
    files = {f"filler{i}.txt": f"{FILLER[i]} {FILLER[(i + 3) % 10]} {FILLER[(i + 5) % 10]}" for i in range(10)}
    files["birds.txt"] = BIRDS
    files["decoy.txt"] = DECOY
    store.index([write(tmp_path / "docs", files)])
    exact = store.search(QUERY, k=3, mode="vector")
    # Pretend the collection is large: chunk and window candidates come from the 1-bit codes.
    monkeypatch.setattr(search_module, "EXACT_LIMIT", 1)
    store._bits.clear()
    coarse = store.search(QUERY, k=3, mode="vector")
    assert Path(coarse[0].path).name == Path(exact[0].path).name == "birds.txt"
    assert coarse[0].score == pytest.approx(exact[0].score)
    # Without the in-memory mirrors (another caller of vector_ranking): sqlite-vec's own KNN.
    collection = store.collection()
    query = store.embedder(collection.embedding_model).encode_query(QUERY)
    for exact_chunks in (True, False):
        ranked = search_module.vector_ranking(store.conn, collection, query, 3, exact=exact_chunks)
        assert ranked[0].chunk_id == exact[0].chunk_id and ranked[0].score == pytest.approx(exact[0].score)


def test_turning_windows_on_fills_in_earlier_chunks_and_survives_a_cancelled_run(store, tmp_path):
    folder = write(tmp_path / "docs", {
        f"doc{i:03}.txt": f"{FILLER[i % 10]} {FILLER[(i + 1) % 10]} {ANSWER[0]} Note {i}." for i in range(120)
    })
    store.index([folder])
    collection = store.set_sentence_windows(None, True)
    assert waiting_chunks(store, collection) == 120

    def cancel_after_first_batch() -> bool:
        return db.scalar(store.conn, f"SELECT COUNT(*) FROM {collection.win_table}") > 0

    first = store.index([folder], cancel=cancel_after_first_batch)
    assert first.cancelled and 0 < first.windows_filled < 120
    assert 0 < waiting_chunks(store, collection) < 120
    waiting = {r[0] for r in store.conn.execute("SELECT id FROM chunks WHERE window_embeddings IS NULL")}
    assert window_rows(store, collection) == sum(
        len(w) for chunk_id, w in windows_of_chunks(store, collection).items() if chunk_id not in waiting
    )

    details = []
    second = store.index([folder], progress=lambda p: details.append(p.detail))
    assert not second.cancelled and second.windows_filled == 120 - first.windows_filled
    assert f"sentence windows: 0 of {second.windows_filled} chunks" in details
    assert waiting_chunks(store, collection) == 0
    assert window_rows(store, collection) == expected_windows(store, collection)
    blobs = dict(store.conn.execute("SELECT id, window_embeddings FROM chunks").fetchall())
    expected = windows_of_chunks(store, collection)
    assert all(len(blobs[i]) == 4 * collection.dimension * len(expected[i]) for i in blobs)
    vectors = np.frombuffer(next(iter(blobs.values())), dtype=np.float32).reshape(-1, collection.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_cli_turns_windows_on_and_reports_them(tmp_path):
    from ragdesk.cli import cli

    folder = write(tmp_path / "docs", {"birds.txt": BIRDS})
    runner = CliRunner()
    plain = runner.invoke(cli, ["index", str(folder), "-c", "notes", "--json", "-q"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.output)["windows_filled"] == 0
    on = runner.invoke(cli, ["index", str(folder), "-c", "notes", "--sentence-windows", "--json", "-q"])
    assert on.exit_code == 0, on.output
    assert json.loads(on.output)["windows_filled"] == 1
    listed = runner.invoke(cli, ["collections", "--json"])
    assert json.loads(listed.output)[0]["sentence_windows"] is True
    assert "sentence windows" in runner.invoke(cli, ["collections"]).output
    off = runner.invoke(cli, ["index", str(folder), "-c", "notes", "--no-sentence-windows", "--json", "-q"])
    assert off.exit_code == 0 and json.loads(off.output)["windows_filled"] == 0
    assert json.loads(runner.invoke(cli, ["collections", "--json"]).output)[0]["sentence_windows"] is False


def test_deleting_a_collection_drops_its_window_table(store, tmp_path):
    store.settings.sentence_windows = True
    store.index([write(tmp_path / "docs", {"birds.txt": BIRDS})], "birds")
    table = store.collection("birds").win_table
    store.delete_collection("birds")
    assert not db.scalar(store.conn, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE ?", (table + "%",))



def test_an_existing_database_gains_windows_off(tmp_path, monkeypatch):
    from support.old_database import database_before

    from ragdesk import migrations

    conn = database_before(tmp_path / "old.db", "m009_sentence_windows", monkeypatch)
    conn.execute("INSERT INTO collections (id, name, embedding_model, dimension, chunk_tokens, chunk_overlap, created_at)"
                 " VALUES (1, 'c', 'm', 3, 200, 40, 0)")
    conn.execute("INSERT INTO documents (id, collection_id, path, kind, size, mtime_ns, sha256, n_chunks, indexed_at)"
                 " VALUES (1, 1, '/a.txt', 'text', 1, 1, 'x', 1, 0)")
    conn.execute("INSERT INTO chunks (document_id, ordinal, start, end, n_tokens, text) VALUES (1, 0, 0, 1, 1, 'a')")
    assert migrations.apply(conn) == ["m009_sentence_windows"]
    assert conn.execute("SELECT sentence_windows FROM collections").fetchall() == [(0,)]
    assert conn.execute("SELECT window_embeddings FROM chunks").fetchall() == [(None,)]
