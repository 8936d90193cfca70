"""Where the real-documents dev set comes from, and what each page says about itself.

Reads documentation installed on this machine that nobody on the project wrote:
the Rust toolchain's HTML (``share/doc/rust/html``: the book, the reference and
the standard library, rendered by mdBook and rustdoc) and CMake's help (reStructuredText
under ``share/cmake-*/Help``; a module's help lives in a comment block of its
``Modules/*.cmake`` file, which is what ``cmake --help-module`` prints).

A ``Page`` is one document of the corpus with the facts the question generators
need: its identifier-like title, its first sentence, its section headings.
Nothing here writes files; ``build_realdocs_devset.py`` does.
"""

from __future__ import annotations

import glob
import hashlib
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\"'])")
_RST_ROLE = re.compile(r":[\w:.-]+:`([^`<]*?)\s*(?:<[^>]*>)?`")
_RST_LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")
_RST_BLOCK = re.compile(r"#\[(=*)\[\.rst:\n(.*?)\n#?\]\1\]", re.S)
# Section headings that name a kind of section, not a topic: useless as queries.
GENERIC_HEADINGS = frozenset(
    "examples example summary panics errors safety notes note see also result variables "
    "cache variables imported targets hints input variables synopsis overview introduction "
    "description usage options arguments return value".split()
)


def stable_hash(text: str) -> int:
    """A hash that is the same on every machine and Python run (sampling, dev/test split)."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


def sample(items: list, n: int, salt: str) -> list:
    """A deterministic pseudo-random subset of ``n`` items, in a stable order."""
    return sorted(items, key=lambda x: stable_hash(f"{salt}:{x}"))[:n]


def first_sentence(text: str, *, min_words: int = 5, max_words: int = 45) -> str | None:
    """The first sentence of a paragraph if it is a usable query (not too short or long)."""
    text = _SPACES.sub(" ", text).strip()
    if not text:
        return None
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    words = sentence.split()
    return sentence if min_words <= len(words) <= max_words else None


def html_text(fragment: str) -> str:
    return _SPACES.sub(" ", html.unescape(_TAG.sub("", fragment))).strip()


@dataclass
class Page:
    """One corpus document: where it comes from, where it goes, and what it says about itself."""

    rel: str  # its path inside the corpus folder, which is also its id in the qrels
    source: Path  # the installed file it is copied from
    family: str  # "book", "reference", "std", "cmake-variable", "cmake-policy", ...
    title: str | None = None  # an identifier when the page is about one (CMAKE_BUILD_TYPE, std::mem::swap)
    summary: str | None = None  # the page's own first sentence
    headings: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)  # rustdoc: inherent methods documented on the page
    text: str | None = None  # content written instead of copying ``source`` (CMake modules)


# ---------------------------------------------------------------- locating the docs


def rust_html_dir() -> Path | None:
    """The Rust toolchain's HTML docs ($RAGDESK_RUST_DOCS, else rustup's stable, else any toolchain)."""
    env = os.environ.get("RAGDESK_RUST_DOCS")
    if env:
        return Path(env)
    found = sorted(glob.glob(os.path.expanduser("~/.rustup/toolchains/*/share/doc/rust/html")))
    found += sorted(glob.glob("/usr/share/doc/rust*/html"))
    stable = [f for f in found if "/stable-" in f]
    return Path((stable or found)[0]) if (stable or found) else None


def cmake_root() -> Path | None:
    """CMake's data folder holding Help/ and Modules/ ($RAGDESK_CMAKE_ROOT, else the newest /usr/share/cmake-*)."""
    env = os.environ.get("RAGDESK_CMAKE_ROOT")
    if env:
        return Path(env)
    found = [p for p in glob.glob("/usr/share/cmake-*") if os.path.isdir(os.path.join(p, "Help"))]
    found.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", os.path.basename(p))])
    return Path(found[-1]) if found else None


# ---------------------------------------------------------------- mdBook pages (book, reference, error codes)


def mdbook_page(path: Path, rel: str, family: str) -> Page:
    """A chapter page: its first paragraph's first sentence and its h2-h3 headings."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    start = raw.find("<main")
    main = raw[start : raw.find("</main>", start)] if start >= 0 else ""
    page = Page(rel, path, family)
    match = re.search(r"<h1[^>]*>(.*?)</h1>", main, re.S)
    if match:
        page.title = html_text(match.group(1))
    for para in re.findall(r"<p>(.*?)</p>", main, re.S)[:3]:
        text = html_text(para)
        page.summary = None if text.startswith("Syntax") else first_sentence(text, min_words=6)
        if page.summary:
            break
    page.headings = [html_text(h) for h in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", main, re.S)]
    return page


def mdbook_pages(root: Path, prefix: str, family: str, *, max_bytes: int | None = None) -> list[Page]:
    pages = []
    for path in sorted(root.rglob("*.html")):
        if max_bytes is not None and path.stat().st_size > max_bytes:
            continue
        rel = f"{prefix}/{path.relative_to(root).as_posix()}"
        pages.append(mdbook_page(path, rel, family))
    return pages


# ---------------------------------------------------------------- rustdoc pages (std)

_RUSTDOC_KINDS = ("fn", "macro", "constant", "struct", "enum", "trait", "type", "keyword")
# Compiler intrinsics, SIMD lanes, per-architecture and per-OS items: thousands of
# near-identical pages few readers open; they would crowd the sample.
_STD_SKIP = frozenset(("intrinsics", "simd", "arch", "os", "unsafe_binder", "autodiff", "assert_matches"))


def rustdoc_item_path(rel_in_std: str) -> str | None:
    """``mem/fn.swap.html`` -> ``std::mem::swap``; ``macro.vec.html`` -> ``std::vec!``; None for others."""
    parts = rel_in_std.split("/")
    kind, _, name = parts[-1][: -len(".html")].partition(".")
    if kind not in _RUSTDOC_KINDS or not name:
        return None
    if kind == "keyword":
        return f"{name} keyword"
    suffix = "!" if kind == "macro" else ""
    return "::".join(["std", *parts[:-1], name.rstrip("!")]) + suffix


def rustdoc_page(path: Path, rel: str, rel_in_std: str) -> Page:
    raw = path.read_text(encoding="utf-8", errors="replace")
    page = Page(rel, path, "std", title=rustdoc_item_path(rel_in_std))
    block = re.search(r'<details class="toggle top-doc"[^>]*>.*?<div class="docblock">(.*?)</div>', raw, re.S)
    if block:
        para = re.search(r"<p>(.*?)</p>", block.group(1), re.S)
        if para:
            page.summary = first_sentence(html_text(para.group(1)), min_words=4)
    listing = re.search(r'id="implementations-list">(.*?)(?:<h2|$)', raw, re.S)
    if listing:
        page.methods = sorted(set(re.findall(r'<section id="method\.(\w+)"', listing.group(1))))
    return page


def _is_redirect(path: Path) -> bool:
    """rustdoc's stubs at an item's private path (``thread/functions/fn.sleep.html``) that forward to its page."""
    return path.stat().st_size < 2000 and 'http-equiv="refresh"' in path.read_text(encoding="utf-8", errors="replace")


def std_pages(std: Path, *, max_bytes: int, n: int, include: set[str] = frozenset()) -> list[Page]:
    """A deterministic sample of ``n`` small std item pages, plus the index page of each module they are in.

    Items re-exported elsewhere in std (``prelude``) and redirect stubs are left
    out so that every page is the only copy of its item, and so are the crowded
    corners in ``_STD_SKIP``; pages over ``max_bytes`` (the big generic types
    with hundreds of trait impls) are left out to keep the corpus small. Pages
    named in ``include`` (corpus paths) are always in.
    """
    candidates = []
    for path in sorted(std.rglob("*.html")):
        rel_in_std = path.relative_to(std).as_posix()
        if rel_in_std.split("/")[0] in _STD_SKIP or "prelude" in rel_in_std or path.stat().st_size > max_bytes:
            continue
        if rustdoc_item_path(rel_in_std) is not None and not _is_redirect(path):
            candidates.append(rel_in_std)
    wanted = {rel[len("rust/std/"):] for rel in include if rel.startswith("rust/std/")}
    chosen = sorted(wanted & set(candidates)) + sample([c for c in candidates if c not in wanted], n, "std")
    modules = sorted({str(Path(r).parent) for r in chosen})
    rels = sorted(set(chosen) | {f"{m}/index.html" if m != "." else "index.html" for m in modules})
    pages = []
    for rel_in_std in rels:
        path = std / rel_in_std
        if path.is_file():
            pages.append(rustdoc_page(path, f"rust/std/{rel_in_std}", rel_in_std))
    return pages


# ---------------------------------------------------------------- CMake help (reStructuredText)


def rst_plain(text: str) -> str:
    """Inline markup as a reader sees it: ``:command:`option``` -> option, ````Debug```` -> Debug."""
    text = _RST_ROLE.sub(r"\1", text)
    return _RST_LITERAL.sub(lambda m: m.group(1) or m.group(2), text)


def rst_page_facts(text: str) -> tuple[str | None, list[str]]:
    """(first sentence of the first paragraph, section titles with the page's own first) of an RST help page."""
    lines = text.splitlines()
    titles = [lines[i].strip() for i in range(len(lines) - 1)
              if lines[i].strip() and re.fullmatch(r"([-=^~*#\"'])\1{2,}", lines[i + 1].strip())
              and len(lines[i + 1].strip()) >= len(lines[i].strip())]
    summary, i = None, 0
    # Skip the title block, then directives (".. versionadded::" and their indented bodies).
    while i < len(lines) and summary is None:
        line = lines[i]
        if line.startswith(".."):
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                i += 1
            continue
        if not line.strip() or (i + 1 < len(lines) and re.fullmatch(r"([-=^~*#\"'])\1{2,}", lines[i + 1].strip())) \
                or re.fullmatch(r"([-=^~*#\"'])\1{2,}", line.strip()):
            i += 1
            continue
        para = []
        while i < len(lines) and lines[i].strip() and not lines[i].startswith(".."):
            para.append(lines[i].strip())
            i += 1
        summary = first_sentence(rst_plain(" ".join(para)), min_words=4) or ""
    return summary or None, titles


def cmake_help_pages(help_dir: Path, section: str, family: str) -> list[Page]:
    pages = []
    for path in sorted((help_dir / section).glob("*.rst")):
        text = path.read_text(encoding="utf-8", errors="replace")
        summary, titles = rst_page_facts(text)
        pages.append(Page(f"cmake/{section}/{path.name}", path, family, title=titles[0] if titles else path.stem,
                          summary=summary, headings=titles[1:]))
    return pages


def cmake_module_pages(root: Path) -> list[Page]:
    """Each module's help, taken from the ``.rst:`` comment block of ``Modules/<name>.cmake``."""
    pages = []
    for stub in sorted((root / "Help" / "module").glob("*.rst")):
        module = root / "Modules" / f"{stub.stem}.cmake"
        if not module.is_file():
            continue
        block = _RST_BLOCK.search(module.read_text(encoding="utf-8", errors="replace"))
        if not block:
            continue
        text = block.group(2).strip("\n") + "\n"
        summary, titles = rst_page_facts(text)
        pages.append(Page(f"cmake/module/{stub.stem}.rst", module, "cmake-module", title=stub.stem,
                          summary=summary, headings=titles[1:], text=text))
    return pages
