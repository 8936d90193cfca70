"""Document titles and heading paths: read per format, stored, weighted in BM25, embedded, migrated."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import apsw
import pytest
from support.documents import make_docx, make_pdf

from ragdesk import db, migrations
from ragdesk.ingest import extract
from ragdesk.ingest.context import context_prefix, embedding_text, title_or_name
from ragdesk.ingest.loader import LoadedFile


def read(path: Path):
    data = path.read_bytes()
    return extract(LoadedFile(path, data, len(data), 0, hashlib.sha256(data).hexdigest()))


@pytest.mark.parametrize(
    "name, content, title",
    [
        ("page.html", "<html><head><title>E0382 - Error codes</title></head><body><h1>Use after move</h1>"
         "<p>A value was used after it was moved.</p></body></html>", "E0382 - Error codes"),
        ("bare.html", "<html><body><h1>Ownership</h1><h2>Moves</h2><p>Values move.</p></body></html>", "Ownership"),
        ("notes.md", "Intro line.\n\n# Sourdough guide\n\n## Starter\n\nFlour and water.\n", "Sourdough guide"),
        ("front.md", "---\ntitle: \"Field manual\"\nauthor: x\n---\n\n# Chapter one\n\nText here.\n", "Field manual"),
        ("help.rst", "=========\nCMake FAQ\n=========\n\nUsage\n-----\n\nRun cmake.\n", "CMake FAQ"),
        ("plain.txt", "Just some words without any heading at all.", None),
    ],
)
def test_title_per_text_format(tmp_path, name, content, title):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert read(path).title == title


def test_title_of_pdf_and_docx(tmp_path):
    # No metadata title: the first outline entry / the Title paragraph names the document.
    assert read(make_pdf(tmp_path / "records.pdf")).title == "Coastal Records"
    assert read(make_docx(tmp_path / "handbook.docx")).title == "Field Handbook"

    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Debian Reference Manual")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 5, "The Debian system is a powerful and reliable operating system.")
    (tmp_path / "ref.pdf").write_bytes(bytes(pdf.output()))
    assert read(tmp_path / "ref.pdf").title == "Debian Reference Manual"


def test_context_prefix_is_short_and_does_not_repeat_the_title():
    assert context_prefix("E0382 - Error codes", "Use after move") == "E0382 - Error codes — Use after move"
    # The heading path starting with the title: said once.
    assert context_prefix("Ownership", "Ownership > Moves") == "Ownership > Moves"
    assert context_prefix(None, None) == ""
    assert embedding_text(None, None, "body") == "body"
    assert embedding_text("T", "H", "body") == "T — H\n\nbody"
    long_path = " > ".join(f"Section number {i}" for i in range(30))
    prefix = context_prefix("A title", long_path)
    assert len(prefix) < 260 and prefix.endswith("Section number 29")
    assert title_or_name(None, "/docs/error_codes/E0382.html") == "E0382"
    assert title_or_name("Given", "/x/y.html") == "Given"


def page(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


def test_title_column_ranks_the_titled_page_first(store, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    # A table of contents naming every code in its body, twice, and the page whose title is the code.
    toc = "".join(f"<li>E0{n} and E0{n} explained</li>" for n in range(370, 395))
    (docs / "index.html").write_text(page("Error codes index", f"<ul>{toc}</ul>"), encoding="utf-8")
    (docs / "E0382.html").write_text(
        page("E0382", "<h2>Example</h2><p>A variable was used after its value had been moved into a closure; "
             "clone it or borrow it instead.</p>"), encoding="utf-8")
    for n in range(6):
        (docs / f"other{n}.html").write_text(
            page(f"Chapter {n}", f"<p>Unrelated text about gardens number {n}.</p>"), encoding="utf-8")
    store.index([docs])
    for mode in ("bm25", "hybrid"):
        hits = store.search("E0382", k=5, mode=mode)
        assert hits and hits[0].path.endswith("E0382.html"), (mode, [h.path for h in hits])
    hit = store.search("closure borrow clone", k=3, mode="bm25")[0]
    assert hit.path.endswith("E0382.html")
    assert hit.title == "E0382" and hit.heading == "E0382 > Example"
    assert hit.to_json()["title"] == "E0382"
    # Page titles are searchable on their own: "gardens" is in the body, "Chapter 3" only in title and h1.
    assert store.search("Chapter 3", k=1, mode="bm25")[0].path.endswith("other3.html")


def test_titles_switch_ranks_by_the_body_alone(store, tmp_path):
    """The ablation's ``titles`` off really drops the title and heading columns' weight."""
    from ragdesk.store import search_options

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "titled.html").write_text(page("Lighthouse keeping", "<p>Daily rounds and lamp care.</p>"),
                                      encoding="utf-8")
    (docs / "body.html").write_text(page("Coastal notes", "<p>The lighthouse stood on the cliff, a lighthouse "
                                         "of stone.</p>"), encoding="utf-8")
    store.index([docs])
    assert store.search("lighthouse", k=2, mode="bm25")[0].path.endswith("titled.html")
    previous = search_options.use(titles=False)
    try:
        assert store.search("lighthouse", k=2, mode="bm25")[0].path.endswith("body.html")
    finally:
        search_options.use(previous)


def _old_database(path: Path) -> None:
    """A database as ragdesk wrote it before m007: migrations m001-m006 and a one-column FTS table."""
    conn = apsw.Connection(str(path))
    conn.enable_load_extension(True)
    import sqlite_vec

    conn.load_extension(sqlite_vec.loadable_path())
    names = [name for name, _ in migrations.MIGRATIONS]
    upto = names.index("m006_chunk_ocr_confidence") + 1
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    for number, (name, fn) in enumerate(migrations.MIGRATIONS[:upto], start=1):
        fn(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute(
        "INSERT INTO collections (id, name, embedding_model, dimension, chunk_tokens, chunk_overlap, created_at,"
        " n_chunks) VALUES (1, 'default', 'm', 4, 200, 40, 0, 2)"
    )
    conn.execute("CREATE VIRTUAL TABLE vec_c1 USING vec0(chunk_id INTEGER PRIMARY KEY, embedding float[4]"
                 " distance_metric=cosine, embedding_bits bit[4])")
    conn.execute("CREATE VIRTUAL TABLE fts_c1 USING fts5(text, content='', contentless_delete=1,"
                 " tokenize='porter unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE fts_c1_vocab USING fts5vocab(fts_c1, 'row')")
    rows = [
        (1, "/docs/E0382.html", "Use after move", "A value was used after it was moved."),
        (2, "/docs/guide.md", None, "Sourdough needs a starter of flour and water."),
    ]
    for doc_id, path_, heading, text in rows:
        conn.execute("INSERT INTO documents VALUES (?, 1, ?, 'html', 1, 1, 'h', 1, 0)", (doc_id, path_))
        conn.execute("INSERT INTO document_texts VALUES (?, ?)", (doc_id, text))
        conn.execute(
            "INSERT INTO chunks (id, document_id, ordinal, start, end, page, heading, n_tokens, text, embedding)"
            " VALUES (?, ?, 0, 0, ?, NULL, ?, 8, ?, zeroblob(16))",
            (doc_id, doc_id, len(text), heading, text),
        )
        conn.execute("INSERT INTO fts_c1 (rowid, text) VALUES (?, ?)",
                     (doc_id, f"{heading}\n{text}" if heading else text))
    conn.close()


def test_migration_rebuilds_fts_with_title_and_heading_columns(tmp_path):
    from ragdesk.store import collections, search

    path = tmp_path / "old.db"
    _old_database(path)
    conn = db.connect(path)  # applies m007
    assert "m007_titles_and_heading_columns" in {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)
    # Titles of documents indexed before are unknown (the file name stands in), not re-read.
    assert [r[0] for r in conn.execute("SELECT title FROM documents ORDER BY id")] == [None, None]
    collection = collections.get(conn, "default")
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({collection.fts_table})")]
    assert columns == ["text", "title", "headings"]
    # The file name is searchable as the title, the heading path as headings, the body as text.
    assert [r.chunk_id for r in search.bm25_ranking(conn, collection, "E0382", 5)] == [1]
    assert [r.chunk_id for r in search.bm25_ranking(conn, collection, "move", 5)] == [1]
    assert [r.chunk_id for r in search.bm25_ranking(conn, collection, "sourdough starter", 5)] == [2]
    assert conn.execute("SELECT doc FROM fts_c1_vocab WHERE term = 'e0382'").fetchone()[0] == 1
    hit = search.hits_for(conn, search.bm25_ranking(conn, collection, "E0382", 1))[0]
    assert (hit.title, hit.heading) == (None, "Use after move")
    # And the rows stay deletable (contentless_delete) by the document writer.
    with db.transaction(conn):
        from ragdesk.store import documents

        documents.delete_documents(conn, collection, [1])
    assert search.bm25_ranking(conn, collection, "E0382", 5) == []
    conn.close()
