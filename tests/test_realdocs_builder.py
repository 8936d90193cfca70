"""The real-documents dev set builder, on a small documentation tree shaped like the installed ones."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))

import build_realdocs_devset as builder  # noqa: E402
from realdocs_sources import first_sentence, rst_page_facts, rustdoc_item_path  # noqa: E402

MDBOOK = """<html><body><nav>Table of contents</nav><main>
<h2 id="a"><a class="header" href="#a">{title}</a></h2>
<p>{para}</p><h3 id="b"><a class="header" href="#b">{heading}</a></h3><p>More text.</p>
</main></body></html>"""
RUSTDOC = """<html><body><main><h1>Function <span>{name}</span></h1>
<details class="toggle top-doc" open><summary>Expand</summary><div class="docblock"><p>{summary}</p>
</div></details><div id="implementations-list"><section id="method.{method}" class="method"></section></div>
</main></body></html>"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def docs(tmp_path, monkeypatch):
    rust, cmake = tmp_path / "rust" / "html", tmp_path / "cmake-3.99"
    write(rust / "book" / "ch01-01-install.html", MDBOOK.format(
        title="Installation", para="The first step is to install the compiler with a script. Then more.",
        heading="Troubleshooting the Installation"))
    write(rust / "book" / "ch02-00-guess.html", MDBOOK.format(
        title="Guessing Game", para="Let us jump into the language by writing a small game together.",
        heading="Comparing the Guess to the Secret Number"))
    write(rust / "book" / "print.html", MDBOOK.format(title="All", para="Everything again.", heading="Installation"))
    write(rust / "reference" / "keywords.html", MDBOOK.format(
        title="Keywords", para="The language divides keywords into strict, reserved and weak ones.",
        heading="Strict keywords list"))
    write(rust / "std" / "mem" / "fn.swap.html", RUSTDOC.format(
        name="swap", summary="Swaps the values at two mutable locations, without deinitializing either one.",
        method="x"))
    write(rust / "std" / "sync" / "struct.Barrier.html", RUSTDOC.format(
        name="Barrier", summary="A barrier enables multiple threads to synchronize the beginning of some work.",
        method="wait"))
    write(rust / "std" / "mem" / "index.html", "<html><main><p>swap: Swaps the values.</p></main></html>")
    write(rust / "std" / "sync" / "index.html", "<html><main><p>Barrier</p></main></html>")
    write(rust / "error_codes" / "E0382.html", MDBOOK.format(
        title="Error code E0382", para="A variable was used after its contents have been moved elsewhere.",
        heading="Example"))
    help_dir = cmake / "Help"
    write(help_dir / "variable" / "CMAKE_BUILD_TYPE.rst", "CMAKE_BUILD_TYPE\n----------------\n\n"
          "Specifies the build type on single-configuration generators (e.g.\n:ref:`Makefile Generators`).\n")
    write(help_dir / "variable" / "CMAKE_LANG_FLAGS.rst", "CMAKE_<LANG>_FLAGS\n------------------\n\n"
          "Language-wide flags for language ``<LANG>`` used when building.\n")
    write(help_dir / "policy" / "CMP0077.rst", "CMP0077\n-------\n\n.. versionadded:: 3.13\n\n"
          ":command:`option` honors normal variables of the same name.\n")
    write(help_dir / "module" / "FindFoo.rst", ".. cmake-module:: ../../Modules/FindFoo.cmake\n")
    write(cmake / "Modules" / "FindFoo.cmake", "# licence\n#[=======[.rst:\nFindFoo\n-------\n\n"
          "Find the Foo library and its headers for the build.\n\nResult Variables\n^^^^^^^^^^^^^^^^\n"
          "#]=======]\nfind_path(FOO_INCLUDE_DIR foo.h)\n")
    write(help_dir / "command" / "add_library.rst", "add_library\n-----------\n\nAdd a library to the project "
          "using the specified source files.\n")
    monkeypatch.setenv("RAGDESK_RUST_DOCS", str(rust))
    monkeypatch.setenv("RAGDESK_CMAKE_ROOT", str(cmake))
    monkeypatch.setattr(builder, "OWN_QUESTIONS", [("rust/book/ch01-01-install.html", "How do I get the compiler?"),
                                                   ("rust/book/gone.html", "A page this version lacks")])
    return tmp_path


def read_set(folder: Path):
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    qrels = {}
    for split in ("dev", "test"):
        for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
            qid, doc, grade = line.split("\t")
            qrels[qid] = (split, doc, grade)
    return {q["_id"]: q["text"] for q in queries}, qrels


def test_page_facts():
    assert first_sentence("Makes the path absolute right now. Then more.") == "Makes the path absolute right now."
    assert first_sentence("Too short.") is None
    assert rustdoc_item_path("mem/fn.swap.html") == "std::mem::swap"
    assert rustdoc_item_path("macro.vec.html") == "std::vec!" and rustdoc_item_path("mem/index.html") is None
    summary, titles = rst_page_facts("CMP0077\n-------\n\n.. versionadded:: 3.13\n\n"
                                     ":command:`option` honors ``normal`` variables.\n")
    assert (summary, titles) == ("option honors normal variables.", ["CMP0077"])


def test_devset_categories_qrels_by_path_and_halves(docs, capsys):
    folder = builder.build(docs / "work")
    corpus = {p.relative_to(folder / "corpus").as_posix() for p in (folder / "corpus").rglob("*") if p.is_file()}
    assert "rust/book/print.html" not in corpus and "cmake/module/FindFoo.rst" in corpus
    assert "rust/std/mem/index.html" in corpus and not any(c.startswith(("cmake/command", "rust/error")) for c in corpus)
    # The module's help is the comment block of its .cmake file.
    assert (folder / "corpus/cmake/module/FindFoo.rst").read_text().startswith("FindFoo\n-------")
    queries, qrels = read_set(folder)
    assert set(queries) == set(qrels) and all(grade == "1" for _, _, grade in qrels.values())
    assert all(doc in corpus for _, doc, _ in qrels.values())
    by_target = {(queries[q], qrels[q][1]) for q in queries}
    idents = {text for text, _ in by_target if text in (
        "CMP0077", "What does policy CMP0077 change?", "What is CMP0077?")}
    assert len(idents) == 1  # one template per page
    # A placeholder title is not an identifier anyone types.
    assert not any("LANG" in text for q, text in queries.items() if q.startswith("ident-"))
    assert ("option honors normal variables of the same name.", "cmake/policy/CMP0077.rst") in by_target
    # Book chapters: those the hand-written questions are about.
    assert "rust/book/ch01-01-install.html" in corpus and "rust/book/ch02-00-guess.html" not in corpus
    assert ("Troubleshooting the Installation", "rust/book/ch01-01-install.html") in by_target
    assert ("How do I get the compiler?", "rust/book/ch01-01-install.html") in by_target
    assert "1 hand-written questions target pages not in this corpus" in capsys.readouterr().err
    assert {q.split("-")[0] for q in queries} == {"ident", "summary", "heading", "own"}
    # The halves are fixed by the ids: a rebuild gives the same split.
    assert read_set(builder.build(docs / "work", force=True))[1] == qrels


def test_heldout_set_is_the_error_codes_and_commands(docs):
    folder = builder.build(docs / "work", heldout=True)
    queries, qrels = read_set(folder)
    targets = {doc for _, doc, _ in qrels.values()}
    assert targets == {"rust/error_codes/E0382.html", "cmake/command/add_library.rst"}
    assert any("E0382" in text for text in queries.values())
