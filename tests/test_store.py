"""The knowledge store end to end: real SQLite + sqlite-vec + FTS5, real embedding model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ragdesk import db
from ragdesk.store import CollectionError, KnowledgeStore

DOCS = {
    "alpha.txt": "The Zephyr turbine converts wind into electricity. It was installed in Norway in 2019.",
    "beta.md": "# Cooking\n\nSourdough bread needs a starter made of flour and water.\n\n## Baking\n\n"
    "Bake the loaf at 230 degrees for forty minutes.",
    "gamma/delta.txt": "Photosynthesis turns sunlight, water and carbon dioxide into glucose and oxygen.",
}


def write_docs(root: Path, docs: dict[str, str] = DOCS) -> Path:
    for name, text in docs.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def orphan_counts(store: KnowledgeStore) -> dict[str, int]:
    """Rows in any table that point at nothing (must all be zero)."""
    conn = store.conn
    counts = {
        "chunks": db.scalar(conn, "SELECT COUNT(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"),
        "document_texts": db.scalar(
            conn, "SELECT COUNT(*) FROM document_texts WHERE document_id NOT IN (SELECT id FROM documents)"
        ),
        "documents": db.scalar(
            conn, "SELECT COUNT(*) FROM documents WHERE collection_id NOT IN (SELECT id FROM collections)"
        ),
        "sources": db.scalar(conn, "SELECT COUNT(*) FROM sources WHERE collection_id NOT IN (SELECT id FROM collections)"),
        "documents_without_text": db.scalar(
            conn, "SELECT COUNT(*) FROM documents WHERE id NOT IN (SELECT document_id FROM document_texts)"
        ),
    }
    for c in store.collections():
        col = c.collection
        counts[col.vec_table] = db.scalar(
            conn, f"SELECT COUNT(*) FROM {col.vec_table} WHERE chunk_id NOT IN (SELECT id FROM chunks)"
        )
        vec_rows = db.scalar(conn, f"SELECT COUNT(*) FROM {col.vec_table}")
        # contentless FTS5 has no row listing; its docsize shadow table has one row per document.
        fts_rows = db.scalar(conn, f"SELECT COUNT(*) FROM {col.fts_table}_docsize")
        counts[col.fts_table + " vs chunks"] = abs(fts_rows - c.chunks)
        counts[col.vec_table + " vs chunks"] = abs(vec_rows - c.chunks)
        counts["running count vs rows"] = abs(
            db.scalar(conn, "SELECT n_chunks FROM collections WHERE id = ?", (col.id,))
            - db.scalar(conn, f"SELECT COUNT(*) FROM {col.vec_table}")
        )
        counts["chunks without vector"] = db.scalar(conn, "SELECT COUNT(*) FROM chunks WHERE embedding IS NULL")
        counts["chunk sum vs rows"] = abs(
            c.chunks
            - db.scalar(
                conn,
                "SELECT COUNT(*) FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE collection_id = ?)",
                (col.id,),
            )
        )
    return {k: v for k, v in counts.items() if v}


def test_index_and_search_three_modes(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    report = store.index([root])
    assert report.added == 3 and report.skipped == [] and report.chunks_added >= 3
    info = store.info()
    assert (info.documents, info.name) == (3, "default")
    assert info.sources == [str(root)]
    for mode in ("hybrid", "vector", "bm25"):
        hits = store.search("wind turbine electricity", k=2, mode=mode)
        assert hits, mode
        assert Path(hits[0].path).name == "alpha.txt", mode
        top = hits[0]
        text = store.document_text(top.document_id)
        assert text[top.start : top.end] == top.text
    assert store.search("glucose oxygen sunlight", mode="vector")[0].path.endswith("delta.txt")
    baking = store.search("oven temperature for the loaf", mode="hybrid", k=1)[0]
    assert baking.heading == "Cooking > Baking"
    assert orphan_counts(store) == {}


def test_hybrid_fuses_both_rankings(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root])
    hits = store.search("Zephyr", k=3, mode="hybrid")
    # A rare proper noun: BM25 finds it; the fused list puts it first and knows its similarity.
    assert hits[0].path.endswith("alpha.txt")
    assert hits[0].similarity is not None and -1.0 <= hits[0].similarity <= 1.0
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_reindex_unchanged_touched_changed_removed(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root])
    chunk_ids = {h.chunk_id for h in store.iter_chunks()}

    again = store.index([root])
    assert (again.added, again.updated, again.unchanged, again.chunks_added) == (0, 0, 3, 0)

    alpha = root / "alpha.txt"
    later = time.time() + 5
    os.utime(alpha, (later, later))  # touched, same bytes
    touched = store.index([root])
    assert (touched.touched, touched.updated, touched.chunks_added) == (1, 0, 0)
    assert {h.chunk_id for h in store.iter_chunks()} == chunk_ids

    alpha.write_text("Completely new text about lighthouses on rocky coasts.", encoding="utf-8")
    os.utime(alpha, (later + 5, later + 5))
    changed = store.index([root])
    assert (changed.updated, changed.added) == (1, 0)
    assert store.search("lighthouses", k=1, mode="bm25")[0].path == str(alpha)
    assert store.search("Zephyr", k=5, mode="bm25") == []

    (root / "gamma" / "delta.txt").unlink()
    removed = store.index([root])
    assert removed.removed == 1
    assert store.info().documents == 2
    assert orphan_counts(store) == {}


def test_forget_removes_everything(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root])
    assert store.forget([root / "gamma"]) == 1
    assert store.info().documents == 2
    assert store.forget([root]) == 2
    info = store.info()
    assert (info.documents, info.chunks, info.sources) == (0, 0, [])
    assert orphan_counts(store) == {}
    for table in ("chunks", "documents", "document_texts", "sources"):
        assert db.scalar(store.conn, f"SELECT COUNT(*) FROM {table}") == 0, table
    col = store.collection()
    assert db.scalar(store.conn, f"SELECT COUNT(*) FROM {col.vec_table}") == 0
    assert db.scalar(store.conn, f"SELECT COUNT(*) FROM {col.fts_table}_docsize") == 0


def test_collections_are_separate_and_keep_their_model(store, tmp_path):
    root = write_docs(tmp_path / "docs")
    store.index([root / "alpha.txt"], "energy")
    store.index([root / "beta.md"], "food")
    names = {c.name: c.documents for c in store.collections()}
    assert names == {"energy": 1, "food": 1}
    assert store.search("bread", "energy", mode="bm25") == []
    assert store.search("bread", "food", mode="bm25")
    with pytest.raises(CollectionError, match="cannot mix"):
        store.ensure_collection("food", embedding_model="some/other-model")
    with pytest.raises(CollectionError, match="no collection named 'nope'"):
        store.search("x", "nope")
    store.delete_collection("food")
    assert [c.name for c in store.collections()] == ["energy"]
    assert orphan_counts(store) == {}


@pytest.mark.slow  # measures what the real embedding model retrieves (loads it: seconds)
def test_large_collection_uses_quantized_pass_with_good_recall(store, tmp_path, monkeypatch):
    from ragdesk.store import search as search_mod

    sentences = [
        "The orchestra rehearsed the symphony until midnight.",
        "Volcanic ash grounded flights across northern Europe.",
        "A new vaccine trial enrolled two thousand volunteers.",
        "The chess engine found a forced mate in seven moves.",
        "Honeybees communicate the location of flowers by dancing.",
        "The central bank raised interest rates by half a point.",
        "Glaciers in the Alps lost a tenth of their volume.",
        "The startup shipped its first electric delivery van.",
    ]
    docs = {f"s{i}.txt": s for i, s in enumerate(sentences)}
    store.index([write_docs(tmp_path / "many", docs)])
    col = store.collection()
    query = store.embedder(col.embedding_model).encode_query("bees dancing to show flowers")
    exact = search_mod.vector_ranking(store.conn, col, query, 3, exact=True)
    coarse = search_mod.vector_ranking(store.conn, col, query, 3, exact=False)
    assert [r.chunk_id for r in coarse] == [r.chunk_id for r in exact]
    assert coarse[0].similarity == pytest.approx(exact[0].similarity, abs=1e-5)

    from ragdesk.store.bitindex import BitIndex

    mirror = BitIndex.load(store.conn, col)
    assert len(mirror) == 8
    mirrored = search_mod.vector_ranking(store.conn, col, query, 3, exact=False, bits=mirror)
    assert [r.chunk_id for r in mirrored] == [r.chunk_id for r in exact]
    # the mirror's candidates are ordered by Hamming distance like sqlite-vec's own bit KNN
    nearest_bits = [r[0] for r in store.conn.execute(
        f"SELECT chunk_id FROM {col.vec_table} WHERE embedding_bits MATCH vec_quantize_binary(?) AND k = 1",
        (query.tobytes(),))]
    assert mirror.candidates(store.conn, query, 1) == nearest_bits


def test_large_collections_search_through_a_mirror_that_follows_changes(store, tmp_path, monkeypatch):
    from ragdesk.store import search as search_mod

    monkeypatch.setattr(search_mod, "EXACT_LIMIT", 2)  # treat this small collection as a large one
    root = write_docs(tmp_path / "docs")
    store.index([root])
    assert store.search("wind turbine electricity", k=1, mode="vector")[0].path.endswith("alpha.txt")
    first = store._bits[store.collection().id]
    (root / "alpha.txt").write_text("Lighthouses guide ships along rocky coasts at night.")
    os.utime(root / "alpha.txt", (time.time() + 10, time.time() + 10))
    store.index([root])
    hits = store.search("lighthouse guiding ships", k=1, mode="hybrid")
    assert hits[0].path.endswith("alpha.txt") and "Lighthouses" in hits[0].text
    assert store._bits[store.collection().id] is not first  # reloaded after the change
