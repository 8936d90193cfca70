"""Extraction from real files of every supported kind, and every bad input."""

from __future__ import annotations

import io
import zipfile

import pytest
from support import documents as D

from ragdesk.ingest import FileEntry, IngestRules, SkipFile, check_sections, extract, load, walk

RULES = IngestRules.default()


def read(path):
    """The real pipeline for one file: walk -> load -> extract (sections checked)."""
    (entry,) = list(walk([path], RULES))
    assert isinstance(entry, FileEntry), entry
    doc = extract(load(entry, RULES))
    check_sections(doc)
    return doc


def squash(text: str) -> str:
    return " ".join(text.split())


def sections_by_heading(doc) -> dict:
    out: dict = {}
    for s in doc.sections:
        out.setdefault(s.heading, []).append(doc.text[s.start:s.end])
    return {k: "\n".join(v) for k, v in out.items()}


def assert_sections(doc, expected: dict) -> None:
    found = sections_by_heading(doc)
    assert list(found) == list(expected)
    for heading, phrase in expected.items():
        assert phrase in found[heading], (heading, phrase, found[heading])


# ---------------------------------------------------------------- PDF


def test_pdf_text_pages_and_headings(tmp_path):
    doc = read(D.make_pdf(tmp_path / "report.pdf"))
    assert doc.kind == "pdf"
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert [s.heading for s in doc.sections] == ["Coastal Records", "Coastal Records", "Village Bakery"]
    for section, page_text in zip(doc.sections, D.PDF_PAGES):
        assert squash(page_text) in squash(doc.text[section.start:section.end])
    assert doc.text[doc.sections[0].start:].startswith("Coastal Records")
    # every page's text sits in its own page's section only
    assert "glacier survey" not in doc.text[doc.sections[0].start:doc.sections[0].end]


def test_pdf_heading_in_the_middle_of_a_page_starts_a_new_section(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Opening remarks before any heading.", new_x="LMARGIN", new_y="NEXT")
    pdf.start_section("Methods", level=0)
    pdf.multi_cell(0, 6, "Methods", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "We counted the birds at dawn.", new_x="LMARGIN", new_y="NEXT")
    pdf.start_section("Nets", level=1)
    pdf.multi_cell(0, 6, "Nets", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "Mist nets were opened at five.", new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "mid.pdf"
    path.write_bytes(bytes(pdf.output()))
    doc = read(path)
    assert sections_by_heading(doc) == {
        None: "Opening remarks before any heading.",
        "Methods": "Methods\nWe counted the birds at dawn.",
        "Methods > Nets": "Nets\nMist nets were opened at five.",
    }
    assert {s.page for s in doc.sections} == {1}


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path):
    doc = read(D.make_encrypted_pdf(tmp_path / "open.pdf", user_password=""))
    assert squash(D.PDF_PAGES[1]) in squash(doc.text)


@pytest.mark.parametrize(
    "build, reason",
    [
        (
            lambda p: D.make_encrypted_pdf(p, user_password="secret"),
            r"^encrypted PDF \(password required\)$",
        ),
        (lambda p: D.make_truncated_pdf(p, keep=0.6), r"^corrupt or unreadable PDF: \S"),
        (lambda p: D.make_truncated_pdf(p, keep=0.1), r"^corrupt or unreadable PDF: \S"),
        (lambda p: p.write_bytes(b"%PDF-1.7\nnot really a pdf\n"), r"^corrupt or unreadable PDF: \S"),
        (D.make_scanned_pdf, r"^no text found \(no text layer, and no text that OCR could read\)$"),
    ],
    ids=["encrypted", "truncated", "truncated-early", "garbage", "drawings-only"],
)
def test_bad_pdfs_are_skipped_with_one_line_reasons(tmp_path, build, reason, caplog):
    path = tmp_path / "bad.pdf"
    build(path)
    with pytest.raises(SkipFile, match=reason) as info:
        read(path)
    assert "\n" not in str(info.value)
    # pypdf's own log lines ("EOF marker not found"...) are quieted
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []


# ---------------------------------------------------------------- DOCX


def test_docx_headings_paragraphs_and_tables(tmp_path):
    doc = read(D.make_docx(tmp_path / "handbook.docx"))
    assert doc.kind == "docx"
    assert_sections(doc, D.DOCX_SECTIONS)
    assert "Item\tCount\nRadio\t4\nCompass\t6" in doc.text
    assert doc.text.startswith("Field Handbook\n\nThis handbook")


@pytest.mark.parametrize("damage", ["truncated", "not-a-zip", "zip-without-document"])
def test_corrupt_docx_is_skipped(tmp_path, damage):
    path = tmp_path / "bad.docx"
    if damage == "truncated":
        data = D.make_docx(path).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not-a-zip":
        path.write_text("I am a plain text file with the wrong name")
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("hello.txt", "no word document in here")
        path.write_bytes(buffer.getvalue())
    with pytest.raises(SkipFile, match=r"^corrupt or unreadable DOCX: \S"):
        read(path)


# ---------------------------------------------------------------- HTML


def test_html_visible_text_and_heading_paths(tmp_path):
    doc = read(D.write_text(tmp_path / "page.html", D.HTML_PAGE))
    assert doc.kind == "html"
    assert_sections(doc, D.HTML_SECTIONS)
    for invisible in ("never indexed", "color: red", "Orchard notes", "a comment"):
        assert invisible not in doc.text
    assert "Apples > Pruning" in {s.heading for s in doc.sections}


def test_html_honours_its_declared_charset_and_collapses_whitespace(tmp_path):
    page = (
        '<html><head><meta charset="windows-1252"></head>'
        "<body><p>Caf\u00e9   \u2014\n  cr\u00e8me</p>"
        "<pre>keep   this\n  layout</pre><table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    doc = read(D.write_text(tmp_path / "legacy.htm", page, "cp1252"))
    assert doc.text == "Caf\u00e9 \u2014 cr\u00e8me\n\nkeep   this\n  layout\n\na\tb"


def test_html_with_only_scripts_has_no_text(tmp_path):
    path = D.write_text(tmp_path / "app.html", "<html><script>render()</script><body> </body></html>")
    with pytest.raises(SkipFile, match=r"^no text$"):
        read(path)


# ---------------------------------------------------------------- Markdown, RST, code


def test_markdown_atx_and_setext_headings_offsets_into_the_file(tmp_path):
    path = D.write_text(tmp_path / "guide.md", D.MARKDOWN_DOC)
    doc = read(path)
    assert doc.kind == "markdown"
    assert doc.text == D.MARKDOWN_DOC  # offsets point into the file itself
    assert_sections(doc, D.MARKDOWN_SECTIONS)
    install = next(s for s in doc.sections if s.heading == "Guide > Install")
    assert doc.text[install.start:].startswith("## Install\n")
    windows = next(s for s in doc.sections if s.heading == "Guide > Windows")
    assert doc.text[windows.start:].startswith("Windows\n-------")


def test_markdown_with_crlf_and_front_matter(tmp_path):
    source = "---\ntitle: Notes\n---\n" + D.MARKDOWN_DOC.replace("\n", "\r\n")
    doc = read(D.write_text(tmp_path / "crlf.markdown", source))
    assert doc.text == source
    found = sections_by_heading(doc)
    assert list(found) == list(D.MARKDOWN_SECTIONS)  # front matter's "---" is no heading
    assert found["Guide > Install > Linux"].startswith("### Linux\r\n")


def test_a_bare_heading_joins_its_first_subsection(tmp_path):
    source = "# Guide\n\n## Install `pip`\n\nRun the installer.\n\n## Empty\n\n# Next\n\nMore.\n"
    doc = read(D.write_text(tmp_path / "bare.md", source))
    assert sections_by_heading(doc) == {
        "Guide > Install pip": "# Guide\n\n## Install `pip`\n\nRun the installer.",
        "Guide > Empty": "## Empty",  # nothing below it to join
        "Next": "# Next\n\nMore.",
    }
    chain = read(D.write_text(tmp_path / "chain.md", "# A\n\n## B\n\n### C\n\nx\n\n### D\n\ny\n"))
    assert sections_by_heading(chain) == {"A > B > C": "# A\n\n## B\n\n### C\n\nx", "A > B > D": "### D\n\ny"}


def test_rst_section_titles_by_adornment(tmp_path):
    doc = read(D.write_text(tmp_path / "workshop.rst", D.RST_DOC))
    assert doc.kind == "rst"
    assert doc.text == D.RST_DOC
    assert_sections(doc, D.RST_SECTIONS)


def test_rst_ignores_transitions_and_tables(tmp_path):
    source = (
        "Intro paragraph.\n\n----------\n\nAfter the transition.\n\n"
        "=====  =====\nA      B\n=====  =====\n\nReal Title\n~~~~~~~~~~\n\nBody.\n"
    )
    doc = read(D.write_text(tmp_path / "t.rst", source))
    assert [s.heading for s in doc.sections] == [None, "Real Title"]


def test_code_is_one_section_of_the_file_text(tmp_path):
    doc = read(D.write_text(tmp_path / "orchard.py", D.PYTHON_CODE))
    assert doc.kind == "code"
    assert doc.text == D.PYTHON_CODE
    assert [(s.heading, s.page) for s in doc.sections] == [(None, None)]
    assert doc.text[doc.sections[0].start:doc.sections[0].end] == D.PYTHON_CODE.strip()


# ---------------------------------------------------------------- encodings and bad text


@pytest.mark.parametrize(
    "text, encoding",
    [
        (D.WESTERN_TEXT, "cp1252"),
        ("Der B\u00e4r l\u00e4uft \u00fcber die Stra\u00dfe. Gr\u00f6\u00dfe.\n", "latin-1"),
        ("\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430? "
         "\u042d\u0442\u043e \u0442\u0435\u0441\u0442.\n", "cp1251"),
        (D.WESTERN_TEXT, "utf-8-sig"),
        (D.WESTERN_TEXT, "utf-16"),  # with BOM (little-endian here)
        (D.WESTERN_TEXT, "utf-16-be-bom"),
        (D.WESTERN_TEXT, "utf-32"),
        ("plain ascii in UTF-16 without any BOM\n", "utf-16-le"),
    ],
)
def test_text_encodings_are_decoded(tmp_path, text, encoding):
    if encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    doc = read(path)
    assert doc.text == text
    assert doc.kind == "text"


def test_undecodable_bytes_never_crash(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes("ok caf\u00e9 ".encode() + b"\xff\xfe\x81 broken \x8d\x90 bytes " * 20)
    doc = read(path)
    assert "broken" in doc.text


@pytest.mark.parametrize(
    "name, data",
    [
        ("blob.txt", bytes(range(256)) * 8),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)),
        ("noise.py", bytes((i * 37 + 11) % 32 for i in range(4000))),  # control bytes, no NUL
        ("page.html", b"<html>\x00\x01\x02" * 100),
    ],
)
def test_binary_content_under_a_text_extension(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SkipFile, match=r"^binary content, not text$"):
        read(path)


def test_whitespace_only_file_has_no_text(tmp_path):
    path = D.write_text(tmp_path / "blank.md", " \n\t\n   \r\n")
    with pytest.raises(SkipFile, match=r"^no text$"):
        read(path)


def test_sample_folder_extracts_and_skips_as_documented(tmp_path):
    good = D.build_sample_folder(tmp_path)
    seen, skipped = {}, {}
    for item in walk([tmp_path], RULES):
        rel = item.path.relative_to(tmp_path).as_posix()
        if not isinstance(item, FileEntry):
            skipped[rel] = item.reason
            continue
        try:
            doc = extract(load(item, RULES))
        except SkipFile as exc:
            skipped[rel] = str(exc)
            continue
        seen[rel] = doc.text
    assert set(seen) == set(good)
    for rel, phrase in good.items():
        assert squash(phrase) in squash(seen[rel]), rel
    for rel, reason in D.BAD_SAMPLE_FILES.items():
        assert skipped[rel].startswith(reason), (rel, skipped[rel])
    assert skipped["song.mp3"] == "unsupported file type"
