"""Search on real folders: bad queries, identifiers, and copies of one text (issue #11 points 8, 2, 3).

Real SQLite file (apsw + sqlite-vec + FTS5) and the real embedding model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ragdesk.store import QueryError
from ragdesk.store.identifiers import identifiers, index_forms, query_phrases

FTS_SYNTAX = [
    '"', '""', '"unclosed wind', "*", "wind*", "NEAR(", "NEAR(wind turbine, 2)", "-", "-wind", "AND", "OR", "NOT",
    "wind AND", "OR OR OR", "NOT turbine", ":", "text:wind", "title : wind", "^", "^wind", "(", ")", "(wind",
    "{}", "{text}: wind", "wind + turbine", "wind; DROP TABLE chunks;--", "'", "\\", "\x00", "é", "🙂",
]


def write(root: Path, docs: dict[str, str]) -> Path:
    for name, text in docs.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


BASIC = {
    "alpha.txt": "The Zephyr turbine converts wind into electricity. It was installed in Norway in 2019.",
    "beta.txt": "Sourdough bread needs a starter made of flour and water. Bake it at 230 degrees.",
    "gamma.txt": "Photosynthesis turns sunlight, water and carbon dioxide into glucose and oxygen.",
}


@pytest.fixture
def basic(store, tmp_path):
    store.index([write(tmp_path / "docs", BASIC)])
    return store


# -- point 8: bad queries ----------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_gets_a_clear_message(basic, query):
    for mode in ("hybrid", "vector", "bm25"):
        with pytest.raises(QueryError, match="the query is empty"):
            basic.search(query, mode=mode)


def test_fts5_syntax_is_searched_as_words_never_an_sql_error(basic):
    for query in FTS_SYNTAX:
        for mode in ("hybrid", "bm25"):
            hits = basic.search(query, k=3, mode=mode)
            assert len(hits) <= 3
            if mode == "hybrid":
                assert hits, query  # the vector side always has an answer
            if "wind" in query and mode == "bm25":
                assert hits and hits[0].path.endswith("alpha.txt"), query


def test_a_100_kb_query_is_searched(basic):
    filler = " ".join(f"word{i} lorem ipsum dolor" for i in range(5_000))
    query = filler[:50_000] + " zephyr turbine " + filler[50_000:100_000]
    assert len(query) >= 100_000
    for mode in ("hybrid", "vector", "bm25"):
        hits = basic.search(query, k=2, mode=mode)
        assert len(hits) <= 2
    # The few words the collection knows are kept among the thousands it does not.
    assert basic.search(query, k=1, mode="bm25")[0].path.endswith("alpha.txt")


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_the_cli_names_an_empty_query_and_searches_fts_syntax(tmp_path):
    home = tmp_path / "home"
    folder = write(tmp_path / "docs", BASIC)
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "ragdesk", "--home", str(home), *a], capture_output=True, text=True, timeout=300
    )
    assert run("index", str(folder)).returncode == 0
    empty = run("search", "  ")
    assert empty.returncode == 1 and "the query is empty" in empty.stderr and "Traceback" not in empty.stderr
    syntax = run("search", 'NEAR("wind* AND -turbine', "--mode", "bm25", "--json")
    assert syntax.returncode == 0, syntax.stderr
    assert json.loads(syntax.stdout)[0]["path"].endswith("alpha.txt")


# -- point 2: identifiers ----------------------------------------------------

IDENT_DOCS = {
    "E0382.md": "# E0382\n\nError E0382: borrow of moved value. A value was used after it was moved.",
    "E0499.md": "# E0499\n\nError E0499: a variable was borrowed as mutable more than once at a time.",
    "cve.txt": "CVE-2024-3094 is the backdoor found in the xz compression library.",
    "cve-decoy.txt": "The 2024 report counted 3094 issues across all CVE entries of the year.",
    "dates.txt": "Timestamps are written in ISO-8601 form, with the zone offset.",
    "cmake.txt": "cmake_minimum_required(VERSION 3.10) must be the first command of the project.",
    "cmake-decoy.txt": "The minimum version of cmake required by a project is a matter of taste, people say.",
    "rust.txt": "std::vec::Vec is a contiguous growable array type with heap-allocated contents.",
    "rust-decoy.txt": "The std library has a type for every need: vec, deque and list alike.",
    "python.txt": "os.path.join joins one or more path segments intelligently.",
    "python-decoy.txt": "Every os has a path separator; join the club of portable code writers.",
    "java.txt": "Call getUserName to read the account holder; the HashMap keeps them by id.",
}


@pytest.fixture
def idents(store, tmp_path):
    store.index([write(tmp_path / "idents", IDENT_DOCS)])
    return store


def top(store, query: str, mode: str = "bm25") -> str:
    hits = store.search(query, k=3, mode=mode)
    assert hits, query
    return Path(hits[0].path).name


@pytest.mark.parametrize(
    "query, expected",
    [
        ("What does Rust error E0382 mean?", "E0382.md"),
        ("E0382", "E0382.md"),
        ("CVE-2024-3094", "cve.txt"),
        ("ISO-8601", "dates.txt"),
        ("cmake_minimum_required", "cmake.txt"),
        ("std::vec::Vec", "rust.txt"),
        ("os.path.join", "python.txt"),
        ("getUserName", "java.txt"),
    ],
)
def test_identifiers_match_whole_and_rank_above_prose_using_their_words(idents, query, expected):
    for mode in ("bm25", "hybrid"):  # hybrid: the tuned fusion keeps BM25's exact match on top
        assert top(idents, query, mode) == expected, (query, mode)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("0382", "E0382.md"),  # a code's number alone
        ("cve-2024-3094 xz", "cve.txt"),  # lower case, with other words
        ("cve20243094", "cve.txt"),  # typed without separators
        ("ISO8601", "dates.txt"),  # other separators than the text's
        ("ISO 8601", "dates.txt"),
        ("cmake minimum required", "cmake.txt"),
        ("vec::Vec", "rust.txt"),
        ("path.join", "python.txt"),
        ("user name", "java.txt"),  # camelCase by its parts
        ("hash map", "java.txt"),
    ],
)
def test_identifiers_match_by_their_parts(idents, query, expected):
    assert top(idents, query) == expected, query


def test_identifier_forms_at_index_and_query_time():
    assert identifiers("Use os.path.join, not E0382 or plain words.") == ["os.path.join", "E0382"]
    assert identifiers("well 2024-01-05 3.14") == []  # numbers alone are not identifiers
    assert index_forms("CVE-2024-3094 and camelCase") == "cve20243094 camel case"
    assert query_phrases("std::vec::Vec") == ["stdvecvec", "std vec vec"]
    from ragdesk.store.identifiers import names_identifier

    assert all(names_identifier(q) for q in ("error E0382", "os.path.join", "CMAKE_BUILD_TYPE", "ISO-8601", "FindBoost"))
    assert not any(names_identifier(q) for q in ("built-in types", "e.g. this", "a read-only file", "How is Vec grown?"))


# -- point 3: copies take one slot ---------------------------------------------

PARAGRAPH = "The kettle must be descaled monthly with citric acid to keep the heating plate clean."


@pytest.fixture
def copied(store, tmp_path):
    docs = {
        "manual/kettle.md": PARAGRAPH,
        "print/print.md": "  " + PARAGRAPH.upper().replace(" ", "\n  "),  # same text, other case and spacing
        "mirror/kettle.md": PARAGRAPH,
        "other/toaster.md": "The toaster's crumb tray should be emptied weekly; descaling is not needed.",
        "other/fridge.md": "Defrost the fridge twice a year and clean its seals with warm water.",
    }
    store.index([write(tmp_path / "copies", docs)])
    return store


def test_copies_of_one_text_take_one_slot_and_list_the_others(copied):
    for mode in ("hybrid", "vector", "bm25"):
        hits = copied.search("descaling the kettle with citric acid", k=3, mode=mode)
        texts = [" ".join(h.text.casefold().split()) for h in hits]
        assert len(texts) == len(set(texts)), mode  # k results are k different texts
        first = hits[0]
        assert "citric acid" in texts[0]
        places = {Path(first.path).parent.name, *(Path(c.path).parent.name for c in first.copies)}
        assert places == {"manual", "print", "mirror"}, mode
        assert len(first.copies) == 2 and first.copies_line().startswith("also in 2 other files")
        assert all(not h.copies for h in hits[1:])
    assert len(copied.search("descaling the kettle with citric acid", k=3, mode="vector")) == 3  # filled deeper


def test_a_folder_copied_many_times_still_gives_k_different_texts(store, tmp_path):
    # Twelve copies of a six-note folder: 72 chunks, 6 texts. The first rankings (20 deep)
    # hold at most two texts; the search ranks deeper until it has k different ones.
    # Note i says "citric acid" 6 - i times: every copy of note 0 outranks every copy of note 1, and so on.
    parts = ["lid", "base", "spout", "filter", "handle", "cord"]
    notes = {f"note{i}.md": "Kettle care. " + "Descale with citric acid. " * (6 - i) + f"Dry the {parts[i]}."
             for i in range(6)}
    docs = {f"copy{c:02d}/{name}": text for c in range(12) for name, text in notes.items()}
    store.index([write(tmp_path / "copies", docs)])
    for mode in ("hybrid", "vector", "bm25"):
        hits = store.search("descale the kettle with citric acid and rinse", k=5, mode=mode)
        texts = {" ".join(h.text.split()) for h in hits}
        assert len(hits) == 5 and len(texts) == 5, (mode, [h.path for h in hits])
        assert all(len(h.copies) == 11 for h in hits), mode


def test_copies_in_the_json_of_cli_search(copied, tmp_path, ragdesk_home):
    # In process (click's runner): the same command as `ragdesk search`, without starting Python again.
    from click.testing import CliRunner

    from ragdesk.cli import cli

    result = CliRunner().invoke(cli, ["--home", str(ragdesk_home), "search", "citric acid descaling", "--k", "2",
                                      "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits[0]["copies"]) == 2 and {"path", "page", "chunk_id", "document_id"} <= set(hits[0]["copies"][0])
    assert hits[1]["copies"] == []
    text = CliRunner().invoke(cli, ["--home", str(ragdesk_home), "search", "citric acid descaling", "--k", "1"]).stdout
    assert "also in 2 other files" in text


def test_the_content_hash_is_computed_for_an_existing_database(tmp_path, monkeypatch):
    from support.old_database import database_before

    from ragdesk import migrations
    from ragdesk.store.copies import content_hash

    conn = database_before(tmp_path / "old.db", "m008_chunk_content_hash", monkeypatch)  # before copies
    conn.execute("INSERT INTO collections (id, name, embedding_model, dimension, chunk_tokens, chunk_overlap, created_at)"
                 " VALUES (1, 'c', 'm', 3, 200, 40, 0)")
    conn.execute("INSERT INTO documents VALUES (1, 1, '/a.txt', 'text', 1, 1, 'x', 2, 0)")
    for text in ("Same  Text", "same text"):
        conn.execute("INSERT INTO chunks (document_id, ordinal, start, end, n_tokens, text) VALUES (1, 0, 0, 1, 1, ?)",
                     (text,))
    assert "m008_chunk_content_hash" in migrations.apply(conn)
    hashes = [h for (h,) in conn.execute("SELECT content_hash FROM chunks")]
    assert hashes == [content_hash("same text")] * 2


# -- point 5: the fusion -------------------------------------------------------


def test_the_fusion_switch_chooses_plain_rrf_or_the_tuned_rule(idents):
    from ragdesk.store import search_options

    previous = search_options.use(fusion="rrf")
    try:
        plain = idents.search("CVE-2024-3094", k=3, mode="hybrid")
    finally:
        search_options.use(previous)
    tuned = idents.search("CVE-2024-3094", k=3, mode="hybrid")
    assert plain[0].score <= 2 / 61 + 1e-9  # RRF k=60: at most 1/61 from each list
    assert tuned[0].score > 3 / 11 and Path(tuned[0].path).name == "cve.txt"  # k=10, BM25 weighted 3:1


def test_the_guard_keeps_a_clear_bm25_winner_first_and_only_then():
    from ragdesk.store.fusion import FusionRule, fuse
    from ragdesk.store.search import Ranked

    vector = [Ranked(i, 1.0 - i / 100, 1.0 - i / 100) for i in (1, 2, 3, 4)]
    clear = [Ranked(9, 12.0), Ranked(1, 4.0), Ranked(2, 3.5)]
    close = [Ranked(9, 4.2), Ranked(1, 4.0), Ranked(2, 3.5)]
    rule = FusionRule(guard=1.5)
    assert fuse(vector, clear, "plain words", 10, rule)[0].chunk_id == 9
    assert fuse(vector, close, "plain words", 10, rule)[0].chunk_id == 1  # RRF decides
    assert fuse(vector, clear, "plain words", 10, FusionRule())[0].chunk_id == 1
    # An identifier in the query weights BM25 up.
    lean, apart = FusionRule(ident_w_bm25=3.0), [Ranked(9, 4.2), Ranked(5, 4.0), Ranked(6, 3.5)]
    assert fuse(vector, apart, "what is E0382", 10, lean)[0].chunk_id == 9
    assert fuse(vector, apart, "what is it", 10, lean)[0].chunk_id == 1


def test_the_title_guard_keeps_the_page_the_query_names_first():
    from ragdesk.store.fusion import FusionRule, fuse
    from ragdesk.store.search import Ranked

    vector = [Ranked(1, 0.9, 0.9), Ranked(9, 0.8, 0.8)]
    close = [Ranked(9, 4.2), Ranked(1, 4.0)]  # no clear BM25 winner: RRF alone puts 1 first
    rule = FusionRule(rrf_k=10.0, title_guard=True)
    assert fuse(vector, close, "q", 10, rule)[0].chunk_id == 1
    assert fuse(vector, close, "q", 10, rule, title_named=True)[0].chunk_id == 9
    assert fuse(vector, close, "q", 10, FusionRule(rrf_k=10.0), title_named=True)[0].chunk_id == 1
    assert fuse(vector, [], "q", 10, rule, title_named=True)[0].chunk_id == 1


def test_a_query_names_a_title_by_its_words_or_by_the_page_part(store, tmp_path):
    from ragdesk.store.search import names_title

    docs = write(tmp_path / "docs", {
        "E0382.html": "<html><head><title>E0382 - Error codes index</title></head><body>"
                      "<p>A value was used after it was moved.</p></body></html>",
        "iter.html": "<html><head><title>std::iter - Rust</title></head><body><p>Composable iteration.</p></body></html>",
        "Documentation.rst": "Documentation\n=============\n\nMacros that find tools for manuals.\n",
        "the.md": "# The\n\nA page whose title is a function word.\n",
        "plain.txt": "No title here at all.",
    })
    store.index([docs])
    chunk = {Path(p).name: cid for cid, p in store.conn.execute(
        "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.document_id")}
    assert names_title(store.conn, "What does Rust error E0382 mean?", chunk["E0382.html"])
    assert names_title(store.conn, "e0382 error codes index", chunk["E0382.html"])
    assert not names_title(store.conn, "What does error E0383 mean?", chunk["E0382.html"])
    assert names_title(store.conn, "what is in std::iter?", chunk["iter.html"])
    assert not names_title(store.conn, "std iterators", chunk["iter.html"])
    assert names_title(store.conn, "How do I use the DOCUMENTATION module?", chunk["Documentation.rst"])
    assert not names_title(store.conn, "The documentation of the module", chunk["the.md"])
    assert not names_title(store.conn, "No title here", chunk["plain.txt"])


def test_hybrid_search_keeps_the_page_titled_by_the_query_first(store, tmp_path, monkeypatch):
    from dataclasses import replace

    from ragdesk.store import fusion

    docs = write(tmp_path / "docs", {
        "Documentation.rst": "Documentation\n=============\n\n"
                             "Use this module to find tools for manuals, books, guides and printed pages.\n",
        # A policy page that uses the question's words more often: the vector search's first.
        "CMP0106.rst": "CMP0106\n=======\n\n"
                       "Use of the Documentation module, use of its module variables, and documentation of their use.\n",
        **{f"Find{n}.rst": f"Find{n}\n=====\n\nThe Find{n} module finds library number {n}.\n" for n in range(4)},
    })
    store.index([docs])
    query = "How do I use the Documentation module?"
    first = {mode: Path(store.search(query, k=3, mode=mode)[0].path).name for mode in ("bm25", "vector", "hybrid")}
    assert first == {"bm25": "Documentation.rst", "vector": "CMP0106.rst", "hybrid": "Documentation.rst"}
    monkeypatch.setattr(fusion, "TUNED", replace(fusion.TUNED, title_guard=False))
    assert Path(store.search(query, k=3, mode="hybrid")[0].path).name == "CMP0106.rst"  # what the guard prevents


def test_the_sources_panel_says_where_else_the_text_is(qtbot, copied):
    from ragdesk.ui.chat.sources_panel import CitationsPanel

    panel = CitationsPanel(copied.document_text)
    qtbot.addWidget(panel)
    try:
        hit = copied.search("descaling the kettle with citric acid", k=1, mode="bm25")[0]
        panel.show_search("descaling", [hit])
        assert "also in 2 other files" in panel.where.text()
        assert all(c.path in panel.where.toolTip() for c in hit.copies)
        other = copied.search("defrost the fridge", k=1, mode="bm25")[0]
        panel.show_search("fridge", [other])
        assert "also in" not in panel.where.text()
    finally:
        panel.shutdown()


def test_the_convex_fusion_adds_scores_scaled_by_each_lists_best():
    from ragdesk.store.fusion import FusionRule, fuse
    from ragdesk.store.search import Ranked

    vector = [Ranked(1, 0.9, 0.9), Ranked(2, 0.45, 0.45)]
    keyword = [Ranked(2, 10.0), Ranked(3, 5.0)]
    fused = fuse(vector, keyword, "plain words", 10, FusionRule(method="convex"))
    assert [(r.chunk_id, round(r.score, 6)) for r in fused] == [(2, 1.5), (1, 1.0), (3, 0.5)]
    assert fused[2].similarity is None and fused[0].similarity == 0.45
    with pytest.raises(ValueError, match="unknown fusion method"):
        FusionRule(method="convx")
