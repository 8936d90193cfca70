"""``ragdesk eval retrieval``: per-category rows, several modes in one run, documents named by relative path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragdesk.cli import cli
from ragdesk.evaluation import retrieval as metrics
from ragdesk.records import Hit

# Two files share a name in different folders: only relative-path ids tell them apart.
DOCS = {
    "cmake/variable/CMAKE_BUILD_TYPE.rst": "CMAKE_BUILD_TYPE\n\nSpecifies the build type on single-configuration "
    "generators, such as Debug or Release.",
    "cmake/policy/CMP0077.rst": "CMP0077\n\nThe option command honors normal variables of the same name.",
    "rust/book/intro.html": "<html><body><h1>Introduction</h1><p>Welcome to the Rust programming language, "
    "a book about ownership, borrowing and fearless concurrency.</p></body></html>",
    "rust/reference/intro.html": "<html><body><h1>Introduction</h1><p>This reference describes the syntax "
    "of expressions, items and attributes precisely.</p></body></html>",
    "cooking/sourdough.txt": "Sourdough bread rises slowly thanks to wild yeast and lactic bacteria.",
}
QUERIES = {
    "ident-1": "CMAKE_BUILD_TYPE",
    "ident-2": "CMP0077",
    "own-1": "a book that teaches ownership and borrowing",
    "own-2": "bread made with wild yeast",
    "own-3": "precise syntax of expressions and attributes",
}
QRELS = {
    "ident-1": "cmake/variable/CMAKE_BUILD_TYPE.rst",
    "ident-2": "cmake/policy/CMP0077.rst",
    "own-1": "rust/book/intro.html",
    "own-2": "cooking/sourdough.txt",
    "own-3": "rust/reference/intro.html",
}


def hit(path: str) -> Hit:
    return Hit(0, 0, path, None, None, 0, 1, "", 0.0)


def test_category_is_the_id_prefix_and_numbers_have_none():
    assert metrics.category_of("ident-cmake-variable-3") == "ident"
    assert metrics.category_of("own-1") == "own"
    assert metrics.category_of("1234") is None  # SciFact's ids: the total only
    assert metrics.category_of("12-3") is None
    assert metrics.category_of("-x") is None


def test_document_ids_by_relative_path_keep_same_named_files_apart():
    ids = metrics.DocumentIds({"q": {"rust/book/intro.html": 1}})
    assert ids("/home/me/docs/rust/book/intro.html") == "rust/book/intro.html"
    # Not in the qrels: the whole path, so it never merges with the relevant one.
    assert ids("/home/me/docs/rust/reference/intro.html") == "/home/me/docs/rust/reference/intro.html"
    ranking = metrics.ranked_documents([hit("/d/rust/reference/intro.html"), hit("/d/rust/book/intro.html"),
                                        hit("/d/rust/book/intro.html")], ids)
    assert ranking == ["/d/rust/reference/intro.html", "rust/book/intro.html"]
    # BEIR qrels (no slash): file names without extension, as before.
    beir = metrics.DocumentIds({"q": {"d1": 1}})
    assert beir("/x/y/d1.txt") == "d1" and metrics.ranked_documents([hit("/x/d1.txt")]) == ["d1"]


def test_query_metrics_and_category_means_by_hand():
    relevant = {"a": 1}
    # Relevant at rank 2: MRR 1/2, hit@1 0, nDCG = (1/log2(3)) / 1.
    assert metrics.query_metrics(["b", "a"], relevant) == pytest.approx((0.6309298, 1.0, 1.0, 0.5, 0.0))
    assert metrics.query_metrics(["a"], relevant)[3:] == (1.0, 1.0)
    report = metrics.report_of({"ident-1": (1, 1, 1, 1, 1), "ident-2": (0, 0, 1, 0, 0), "own-1": (0.5,) * 5,
                                "42": (1,) * 5})
    assert list(report.categories) == ["ident", "own"]
    assert report.categories["ident"].queries == 2 and report.categories["ident"].hit_at_1 == 0.5
    assert report.total.queries == 4 and report.total.mrr_at_10 == pytest.approx(2.5 / 4)
    data = report.to_json()
    assert data["hit@1"] == pytest.approx(0.625) and data["categories"]["own"]["ndcg@10"] == 0.5


@pytest.fixture
def devset(store, tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    for rel, text in DOCS.items():
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text(text, encoding="utf-8")
    store.index([corpus])
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n"
                                                    for q, t in QUERIES.items()))
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                        + "".join(f"{q}\t{d}\t1\n" for q, d in QRELS.items()))
    return tmp_path


def run_eval(folder: Path, *args: str):
    result = CliRunner().invoke(cli, ["eval", "retrieval", "--queries", str(folder / "queries.jsonl"),
                                      "--qrels", str(folder / "qrels.tsv"), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_eval_retrieval_json_has_the_old_fields_and_categories(devset):
    data = json.loads(run_eval(devset, "--mode", "bm25", "--json").stdout)
    assert data["mode"] == "bm25" and data["queries"] == 5
    assert set(data) >= {"ndcg@10", "recall@10", "recall@100", "mrr@10", "hit@1", "categories"}
    assert {c: v["queries"] for c, v in data["categories"].items()} == {"ident": 2, "own": 3}
    # Identifiers are exact words: BM25 puts their pages first.
    assert data["categories"]["ident"]["hit@1"] == 1.0
    own = data["categories"]["own"]
    assert data["mrr@10"] == pytest.approx((2 * 1.0 + 3 * own["mrr@10"]) / 5, abs=1e-3)


def test_eval_retrieval_several_modes_in_one_run(devset):
    data = json.loads(run_eval(devset, "--modes", "bm25,vector,hybrid", "--json").stdout)
    assert list(data["modes"]) == ["bm25", "vector", "hybrid"]
    for mode, result in data["modes"].items():
        assert result["mode"] == mode and result["queries"] == 5
        assert set(result["categories"]) == {"ident", "own"}
        for row in [result, *result["categories"].values()]:
            assert 0.0 <= row["hit@1"] <= row["mrr@10"] <= 1.0 and row["recall@10"] <= row["recall@100"]
    # The two intro.html pages are told apart: the reference question finds the reference page.
    assert data["modes"]["vector"]["recall@10"] == 1.0
    text = run_eval(devset, "--modes", "bm25,hybrid").stdout.splitlines()
    assert text[0].split() == ["category", "mode", "queries", "MRR@10", "hit@1", "nDCG@10", "Recall@10",
                               "Recall@100"]
    rows = [line.split() for line in text[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [("ident", "bm25", "2"), ("ident", "hybrid", "2"),
                                                  ("own", "bm25", "3"), ("own", "hybrid", "3"),
                                                  ("all", "bm25", "5"), ("all", "hybrid", "5")]
    assert float(rows[0][4]) == pytest.approx(data["modes"]["bm25"]["categories"]["ident"]["hit@1"], abs=1e-4)


def test_eval_retrieval_bad_modes_and_rerank_without_a_reranker(devset):
    bad = CliRunner().invoke(cli, ["eval", "retrieval", "--queries", str(devset / "queries.jsonl"),
                                   "--qrels", str(devset / "qrels.tsv"), "--modes", "bm25,fancy"])
    assert bad.exit_code == 2 and "choose from hybrid, vector, bm25" in bad.output
    none = CliRunner().invoke(cli, ["eval", "retrieval", "--queries", str(devset / "queries.jsonl"),
                                    "--qrels", str(devset / "qrels.tsv"), "--modes", "hybrid+rerank"])
    assert none.exit_code == 1 and "no reranker is chosen" in none.output
