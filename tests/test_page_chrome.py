"""Page chrome (navigation, sidebars, help overlays, link lists) stays out of the index, and is reported."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragdesk.ingest.formats.html import extract_html

PAGE = """<html><head><title>Ownership - The Book</title></head><body>
<div id="mdbook-help-container"><div id="mdbook-help-popup"><h2 class="mdbook-help-title">Keyboard shortcuts</h2>
<p>Press <kbd>?</kbd> to show this help</p><p>Press <kbd>Esc</kbd> to hide this help</p></div></div>
<nav id="mdbook-sidebar" class="sidebar"><ol><li><a href="a.html">1. Getting started</a></li>
<li><a href="b.html">2. Guessing game</a></li></ol></nav>
<div id="mdbook-menu-bar" class="menu-bar"><h1 class="menu-title">The Rust Programming Language</h1></div>
<div class="search-wrapper">search results here</div>
<header class="site-header">Acme docs &middot; Blog &middot; Download</header>
<main>
<article><header><h1>What is ownership?</h1></header>
<p>Ownership is a set of rules that govern how a Rust program manages memory.</p>
<h2>Moves<a class="headerlink" href="#moves">¶</a></h2>
<p>A value moved into another variable can no longer be used through the first.</p>
<ul><li><a href="x.html">Stack</a></li><li><a href="y.html">Heap</a></li>
<li><a href="z.html">Scope</a></li><li><a href="w.html">Drop</a></li></ul>
<ul><li>Each value has an <a href="o.html">owner</a>, and only one at a time.</li>
<li>When the owner goes out of scope, the value is dropped and its memory freed.</li></ul>
</article></main>
<div class="related" role="navigation"><a href="p.html">previous</a> | <a href="n.html">next</a></div>
<footer>Copyright 2026 Example Corp. Built with a generator.</footer>
</body></html>"""


def test_synthetic_page_keeps_content_and_drops_chrome():
    doc = extract_html(PAGE.encode())
    text = doc.text
    for content in ("What is ownership?", "set of rules that govern", "can no longer be used",
                    "Each value has an owner", "value is dropped and its memory freed"):
        assert content in text
    for chrome in ("hide this help", "Keyboard shortcuts", "Guessing game", "search results",
                   "The Rust Programming Language", "Acme docs", "previous", "Copyright", "¶", "Heap"):
        assert chrome not in text, chrome
    assert set(doc.dropped) == {"help overlay", "sidebar", "navigation", "search bar", "header",
                                "heading anchors", "link list", "footer"}
    assert doc.dropped["help overlay"] == len("KeyboardshortcutsPress?toshowthishelpPressEsctohidethishelp")
    # Headings come from the content only: the overlay's h2 and the menu bar's h1 are gone.
    assert {s.heading for s in doc.sections} == {"What is ownership?", "What is ownership? > Moves"}
    # Switched off, the page reads as before.
    full = extract_html(PAGE.encode(), drop_chrome=False)
    assert "hide this help" in full.text and full.dropped == {}


def test_a_list_of_sentences_with_links_is_content():
    html = "<ul>" + "".join(
        f"<li>Step {i}: open the <a href='#'>valve</a> and wait until the pressure gauge reads zero.</li>"
        for i in range(8)) + "</ul><p>Then close it.</p>"
    doc = extract_html(html.encode())
    assert "Step 7: open the valve" in doc.text and doc.dropped == {}


def test_a_page_that_is_only_chrome_is_skipped_with_the_reason(tmp_path):
    import hashlib

    from ragdesk.ingest import SkipFile, extract
    from ragdesk.ingest.loader import LoadedFile

    data = ("<html><body><nav>Home About</nav><ul>" + "".join(
        f"<li><a href='E0{n}.html'>E0{n}</a></li>" for n in range(100, 140)) + "</ul></body></html>").encode()
    with pytest.raises(SkipFile, match="only page chrome"):
        extract(LoadedFile(tmp_path / "index.html", data, len(data), 0, hashlib.sha256(data).hexdigest()))


def _rust_html() -> Path | None:
    found = sorted(glob.glob(os.path.expanduser("~/.rustup/toolchains/*/share/doc/rust/html")))
    found += sorted(glob.glob("/usr/share/doc/rust*/html"))
    return Path(found[0]) if found else None


RUST = _rust_html()


@pytest.mark.skipif(RUST is None or not (RUST / "book").is_dir(), reason="no Rust toolchain docs on this machine")
def test_real_mdbook_and_rustdoc_pages():
    book = extract_html((RUST / "book" / "ch04-01-what-is-ownership.html").read_bytes())
    assert "Press Esc to hide this help" not in book.text and "Keyboard shortcuts" not in book.text
    assert "help overlay" in book.dropped and "navigation" in book.dropped
    assert "Ownership is a set of rules" in book.text
    assert book.title and "Ownership" in book.title
    assert all(not s.heading or s.heading.startswith("What Is Ownership?") for s in book.sections)

    vec = extract_html((RUST / "std" / "vec" / "struct.Vec.html").read_bytes())
    assert "A contiguous growable array type" in vec.text
    assert "Skip to main content" not in vec.text and "Source" not in vec.text.split()
    assert "§" not in vec.text and vec.dropped.get("sidebar", 0) > 1000
    # rustdoc's sidebar and top bar headings no longer head the content.
    assert not any(s.heading and s.heading.startswith("Vec > Sections") for s in vec.sections)


SPHINX = Path("/usr/share/doc/python3/python-policy.html")


@pytest.mark.skipif(not SPHINX.is_file(), reason="no Sphinx page (Debian's python-policy) on this machine")
def test_real_sphinx_page():
    doc = extract_html(SPHINX.read_bytes())
    assert "¶" not in doc.text and "heading anchors" in doc.dropped and "navigation" in doc.dropped
    assert len(doc.text) > 20_000  # the policy itself is all there


def test_index_reports_dropped_chrome(tmp_path, ragdesk_home):
    from ragdesk.cli import cli

    docs = tmp_path / "site"
    docs.mkdir()
    (docs / "page.html").write_text(PAGE, encoding="utf-8")
    (docs / "plain.txt").write_text("Nothing to drop in a text file.", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["index", str(docs), "--json", "-q"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["added"] == 2
    [entry] = report["dropped"]
    assert entry["path"].endswith("page.html") and "help overlay" in entry["what"] and entry["chars"] > 100
    (docs / "page.html").write_text(PAGE.replace("Ownership is", "Ownership was"), encoding="utf-8")
    result = runner.invoke(cli, ["index", str(docs), "-v", "-q"])
    assert result.exit_code == 0, result.output
    assert "Page chrome left out of 1 page(s)" in result.output
    assert "page.html: help overlay" in result.output
    hits = json.loads(runner.invoke(cli, ["search", "hide this help", "--json", "--mode", "bm25"]).output)
    assert all("hide this help" not in h["text"] for h in hits)


def test_a_page_and_its_print_copy_come_back_as_the_page(store, tmp_path):
    # Without its chrome an error page's text is exactly its section of print.html:
    # one hit, shown as the page itself, listing the print page as a copy.
    site = tmp_path / "errors"
    site.mkdir()
    overlay = '<div id="mdbook-help-container"><p>Press Esc to hide this help</p></div>'
    bodies = {
        n: f"<h1>Error code E000{n}</h1><p>The {word} was declared twice in one scope, which the compiler "
           f"rejects; rename one of them.</p>"
        for n, word in ((1, "lantern"), (2, "harbour"), (3, "glacier"))
    }
    for n, body in bodies.items():
        (site / f"E000{n}.html").write_text(f"<html><body>{overlay}<main>{body}</main></body></html>", encoding="utf-8")
    (site / "print.html").write_text(
        f"<html><body>{overlay}<main>{''.join(bodies.values())}</main></body></html>", encoding="utf-8")
    store.index([site])
    for mode in ("bm25", "hybrid"):
        hit = store.search("harbour declared twice in one scope", k=3, mode=mode)[0]
        assert hit.path.endswith("E0002.html"), (mode, hit.path)
        assert [c.path for c in hit.copies] == [str(site / "print.html")]
