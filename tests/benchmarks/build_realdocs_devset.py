"""Build the real-documents retrieval dev set from documentation installed on this machine.

The corpus is copied (never shipped) into WORK/devset/corpus from documentation
nobody on the project wrote:

* ``rust/book``: the chapters of The Rust Programming Language that the
  hand-written questions are about (written after reading a random half of the
  book), and every redirect stub mdBook leaves for moved pages; with
  ``--with-print`` also ``print.html``, the whole book again on one page (the
  copies check);
* ``rust/reference``: the Rust Reference's chapters the questions are about and
  a deterministic sample of the others;
* ``rust/std``: a deterministic sample of small standard-library item pages
  (functions, macros, constants, structs, enums, traits, types, keywords) and
  the index page of each module they belong to (the table-of-contents pages
  that list every item with its summary);
* ``cmake/variable``, ``cmake/policy``: CMake's help pages as installed;
  ``cmake/module``: each module's help, as ``cmake --help-module`` shows it.

Queries (BEIR ``queries.jsonl``) have ids ``CATEGORY-FAMILY-N``:

* ``ident``: identifier questions about a page whose title is the identifier
  (``CMAKE_BUILD_TYPE``, ``What does policy CMP0077 change?``, ``std::mem::swap``,
  ``Cell::replace``);
* ``summary``: the page's own first sentence, verbatim;
* ``heading``: a section heading of a book or reference chapter (unique in the corpus);
* ``own``: questions written by hand after reading the page (``realdocs_questions.py``).

Relevance (qrels, grade 1) is the page itself, named by its path inside the
corpus folder (``cmake/variable/CMAKE_BUILD_TYPE.rst``). Copies are NOT
relevant: ``print.html`` repeats every chapter, and a module's ``index.html``
repeats its items' summaries, but the answer a reader wants (and the citation
that opens it) is the page. The default corpus leaves ``print.html`` out to
index in minutes on two cores; the held-out set keeps its own. Queries are split by a hash of their id into a
``dev`` half (tune on it) and a ``test`` half (report only).

``--heldout`` builds the independent check instead (WORK/heldout): Rust's error
code pages (``error_codes/``, with their index, table of contents and print
page) and CMake's ``command/`` pages (with the ``cmake-commands(7)`` manual that
lists them), with ident and summary queries. Nobody tunes on it; it is reported
at the end only.

Usage: python tests/benchmarks/build_realdocs_devset.py [--work DIR] [--heldout] [--with-print]
       [--force | --queries-only]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realdocs_questions import OWN_QUESTIONS  # noqa: E402
from realdocs_sources import (  # noqa: E402
    GENERIC_HEADINGS,
    Page,
    cmake_help_pages,
    cmake_module_pages,
    cmake_root,
    mdbook_page,
    mdbook_pages,
    rust_html_dir,
    sample,
    stable_hash,
    std_pages,
)

DEFAULT_WORK = Path("/tmp/ragdesk-realdocs")
# Sizes chosen so that the corpus (about 5,000 chunks) indexes in minutes on two free cores.
STD_PAGES = 25
STD_MAX_BYTES = 25_000
REFERENCE_PAGES = 8
REFERENCE_MAX_BYTES = 60_000
# How many queries of each kind (at most; fewer when the docs offer fewer).
IDENT = {"cmake-variable": 50, "cmake-policy": 30, "cmake-module": 30, "std": 50}
IDENT_METHODS = 20
SUMMARY = {"cmake-variable": 30, "cmake-policy": 20, "cmake-module": 20, "std": 30, "book": 30, "reference": 10}
HEADINGS = 80
HELDOUT_IDENT = {"rust-error": 80, "cmake-command": 60}
HELDOUT_SUMMARY = {"rust-error": 40, "cmake-command": 40}

IDENT_TEMPLATES = {
    "cmake-variable": ("{t}", "What does {t} do?", "What is the {t} variable for?"),
    "cmake-policy": ("{t}", "What does policy {t} change?", "What is {t}?"),
    "cmake-module": ("{t}", "How do I use the {t} module?", "What does {t} do?"),
    "std": ("{t}", "What does {t} do?", "How do I use {t}?"),
    "std-keyword": ("{t}", "What does the {t} do?"),
    "std-method": ("{t}", "What does {t} do?"),
    "rust-error": ("{t}", "What does Rust error {t} mean?", "error[{t}]", "How do I fix {t}?"),
    "cmake-command": ("{t}", "What does the {t} command do?", "{t}()"),
}


def split_of(query_id: str) -> str:
    """dev or test, by a stable hash of the query id (about half each)."""
    return "dev" if stable_hash("split:" + query_id) % 2 == 0 else "test"


def pick_template(family: str, key: str) -> str:
    templates = IDENT_TEMPLATES[family]
    return templates[stable_hash("template:" + key) % len(templates)]


# ---------------------------------------------------------------- corpus


def devset_pages(*, with_print: bool = False) -> list[Page]:
    rust, cmake = rust_html_dir(), cmake_root()
    if rust is None or cmake is None:
        sys.exit(f"documentation not found: Rust HTML {rust or 'missing'}, CMake help {cmake or 'missing'} "
                 "(set RAGDESK_RUST_DOCS / RAGDESK_CMAKE_ROOT)")
    asked = {target for target, _ in OWN_QUESTIONS}
    pages = [p for p in mdbook_pages(rust / "book", "rust/book", "book")
             if p.rel in asked or p.summary is None and not p.headings and p.rel != "rust/book/print.html"]
    if with_print and (rust / "book" / "print.html").is_file():
        pages.append(mdbook_page(rust / "book" / "print.html", "rust/book/print.html", "book"))
    reference = [p for p in mdbook_pages(rust / "reference", "rust/reference", "reference",
                                         max_bytes=REFERENCE_MAX_BYTES)
                 if not p.rel.endswith(("/print.html", "/toc.html"))]
    pages += [p for p in reference if p.rel in asked]
    pages += sample([p for p in reference if p.rel not in asked], REFERENCE_PAGES, "reference")
    pages += std_pages(rust / "std", max_bytes=STD_MAX_BYTES, n=STD_PAGES, include=asked)
    help_dir = cmake / "Help"
    pages += cmake_help_pages(help_dir, "variable", "cmake-variable")
    pages += cmake_help_pages(help_dir, "policy", "cmake-policy")
    pages += cmake_module_pages(cmake)
    return pages


def heldout_pages() -> list[Page]:
    rust, cmake = rust_html_dir(), cmake_root()
    if rust is None or cmake is None:
        sys.exit("documentation not found (set RAGDESK_RUST_DOCS / RAGDESK_CMAKE_ROOT)")
    pages = []
    for path in sorted((rust / "error_codes").glob("*.html")):
        page = mdbook_page(path, f"rust/error_codes/{path.name}", "rust-error")
        if re.fullmatch(r"E\d{4}", path.stem):
            page.title = path.stem
        pages.append(page)
    pages += cmake_help_pages(cmake / "Help", "command", "cmake-command")
    manual = cmake / "Help" / "manual" / "cmake-commands.7.rst"
    if manual.is_file():
        pages.append(Page("cmake/manual/cmake-commands.7.rst", manual, "cmake-manual"))
    return pages


def copy_corpus(pages: list[Page], corpus: Path) -> None:
    for page in pages:
        target = corpus / page.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if page.text is not None:
            target.write_text(page.text, encoding="utf-8")
        else:
            shutil.copyfile(page.source, target)


# ---------------------------------------------------------------- queries


def _unique(values: list[str | None]) -> set[str]:
    counts = Counter(v.lower() for v in values if v)
    return {v for v, n in counts.items() if n == 1}


def ident_queries(pages: list[Page], quotas: dict[str, int], methods: int) -> list[tuple[str, str, str]]:
    """(family, query, target) for pages whose title is an identifier, one template each."""
    unique_titles = _unique([p.title for p in pages])
    out = []
    for family, quota in quotas.items():
        eligible = [p for p in pages if p.family == family and p.title and "<" not in p.title
                    and p.title.lower() in unique_titles and not p.rel.endswith("index.html")]
        for page in sample(eligible, quota, "ident:" + family):
            kind = "std-keyword" if page.title.endswith(" keyword") else family
            out.append((family, pick_template(kind, page.rel).format(t=page.title), page.rel))
    # Methods are asked as Type::method, so the type's short name must be unique too.
    short = Counter(p.title.rsplit("::", 1)[-1] for p in pages if p.family == "std" and p.title)
    with_methods = [p for p in pages if p.family == "std" and p.methods and p.title
                    and short[p.title.rsplit("::", 1)[-1]] == 1]
    for page in sample(with_methods, methods, "methods"):
        method = sample(page.methods, 1, "method:" + page.rel)[0]
        name = f"{page.title.rsplit('::', 1)[-1]}::{method}"
        out.append(("std-method", pick_template("std-method", page.rel).format(t=name), page.rel))
    return out


def summary_queries(pages: list[Page], quotas: dict[str, int]) -> list[tuple[str, str, str]]:
    """(family, first sentence, target) for pages whose first sentence no other page starts with."""
    usable = [p for p in pages if not p.rel.endswith(("print.html", "toc.html", "index.html"))]
    unique = _unique([p.summary for p in usable])
    out = []
    for family, quota in quotas.items():
        eligible = [p for p in usable if p.family == family and p.summary and p.summary.lower() in unique]
        out += [(family, p.summary, p.rel) for p in sample(eligible, quota, "summary:" + family)]
    return out


def heading_queries(pages: list[Page], quota: int) -> list[tuple[str, str, str]]:
    """(family, heading, target) for book and reference section headings found on one page only."""
    chapters = [p for p in pages if p.family in ("book", "reference")
                and not p.rel.endswith(("print.html", "toc.html"))]
    unique = _unique([h for p in chapters for h in set(p.headings)])
    candidates = sorted({(p.family, h, p.rel) for p in chapters for h in p.headings
                         if h.lower() in unique and 2 <= len(h.split()) <= 12
                         and h.lower().strip(" :") not in GENERIC_HEADINGS})
    return sample(candidates, quota, "headings")


def own_queries(pages: list[Page]) -> list[tuple[str, str, str]]:
    present = {p.rel for p in pages}
    missing = [target for target, _ in OWN_QUESTIONS if target not in present]
    if missing:
        print(f"warning: {len(missing)} hand-written questions target pages not in this corpus "
              f"(other doc versions?): {', '.join(missing[:5])}", file=sys.stderr)
    return [(target.split("/")[1] if target.startswith("rust/") else "cmake", question, target)
            for target, question in OWN_QUESTIONS if target in present]


def write_set(folder: Path, pages: list[Page], categories: dict[str, list[tuple[str, str, str]]], *,
              copy: bool = True) -> dict:
    """Write corpus (unless ``copy`` is False), queries.jsonl and qrels/{dev,test,all}.tsv; return the manifest."""
    if copy:
        copy_corpus(pages, folder / "corpus")
    queries, qrels = [], {"dev": [], "test": []}
    counts: Counter = Counter()
    for category, items in categories.items():
        per_family: Counter = Counter()
        for family, text, target in items:
            per_family[family] += 1
            qid = f"{category}-{family}-{per_family[family]}"
            queries.append({"_id": qid, "text": text, "metadata": {"category": category, "family": family}})
            qrels[split_of(qid)].append((qid, target))
            counts[(category, split_of(qid))] += 1
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in queries)
    (folder / "qrels").mkdir(exist_ok=True)
    for name, rows in [*qrels.items(), ("all", qrels["dev"] + qrels["test"])]:
        with open(folder / "qrels" / f"{name}.tsv", "w", encoding="utf-8") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            fh.writelines(f"{qid}\t{target}\t1\n" for qid, target in rows)
    return {
        "documents": len(pages),
        "queries": {c: {"dev": counts[(c, "dev")], "test": counts[(c, "test")]} for c in categories},
        "sources": {"rust": str(rust_html_dir()), "cmake": str(cmake_root())},
        "families": dict(Counter(p.family for p in pages)),
    }


def build(work: Path, *, heldout: bool = False, with_print: bool = False, force: bool = False,
          queries_only: bool = False) -> Path:
    """Build the dev set (or the held-out set) under ``work``; return its folder.

    ``queries_only`` rewrites the queries and qrels of an existing set and
    leaves its corpus (and so any index of it) alone.
    """
    folder = work / ("heldout" if heldout else "devset-print" if with_print else "devset")
    exists = (folder / "manifest.json").exists()
    if exists and not force and not queries_only:
        print(f"{folder} exists (use --force to rebuild)")
        return folder
    if not (queries_only and exists):
        queries_only = False
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    if heldout:
        pages = heldout_pages()
        categories = {"ident": ident_queries(pages, HELDOUT_IDENT, 0),
                      "summary": summary_queries(pages, HELDOUT_SUMMARY)}
    else:
        pages = devset_pages(with_print=with_print)
        categories = {"ident": ident_queries(pages, IDENT, IDENT_METHODS),
                      "summary": summary_queries(pages, SUMMARY),
                      "heading": heading_queries(pages, HEADINGS),
                      "own": own_queries(pages)}
    manifest = write_set(folder, pages, categories, copy=not queries_only)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    print(f"{folder}: {manifest['documents']} documents; queries {json.dumps(manifest['queries'])}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"work folder (default {DEFAULT_WORK})")
    parser.add_argument("--heldout", action="store_true", help="build the held-out check set instead")
    parser.add_argument("--with-print", action="store_true", help="add the book's print.html (copies of every chapter)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the set exists")
    parser.add_argument("--queries-only", action="store_true", help="rewrite queries and qrels, keep the corpus")
    args = parser.parse_args()
    build(args.work, heldout=args.heldout, with_print=args.with_print, force=args.force,
          queries_only=args.queries_only)


if __name__ == "__main__":
    main()
