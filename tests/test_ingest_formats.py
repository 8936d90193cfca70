"""Office files, spreadsheets and e-books: real files built with the libraries made for them."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from support import documents as D
from support import office as O

from ragdesk.ingest import SkipFile, check_sections, extract
from ragdesk.ingest.formats import table
from ragdesk.ingest.formats.delimited import extract_delimited
from ragdesk.ingest.loader import LoadedFile
from ragdesk.ingest.zipsafe import MAX_UNPACKED_BYTES


def read(path: Path):
    data = path.read_bytes()
    doc = extract(LoadedFile(path, data, len(data), 0, "-"))
    check_sections(doc)
    return doc


def section_of(doc, phrase: str):
    at = doc.text.index(phrase)
    return next(s for s in doc.sections if s.start <= at < s.end)


# ---------------------------------------------------------------- PPTX


def test_pptx_slides_titles_as_headings_numbers_as_pages_with_tables_and_notes(tmp_path):
    doc = read(O.make_pptx(tmp_path / "deck.pptx"))
    assert doc.kind == "pptx" and doc.title == "Field notes deck"
    first = section_of(doc, "Storm surges peaked in March.")
    assert (first.page, first.heading) == (1, "Harbour survey")
    assert "Notes: Mention the new pier." in doc.text[first.start : first.end]
    second = section_of(doc, "Rye loaves rise overnight")
    assert (second.page, second.heading) == (2, "Bakery plans")
    crew = section_of(doc, "Ada\tNavigator")
    assert (crew.page, crew.heading) == (3, "Crew")
    assert "Name\tRole\nAda\tNavigator" in doc.text


# ---------------------------------------------------------------- XLSX and CSV


def test_xlsx_rows_as_column_value_text_under_sheet_and_row_range_headings(tmp_path):
    doc = read(O.make_xlsx(tmp_path / "orders.xlsx", rows=60))
    assert doc.kind == "xlsx"
    assert "Customer: customer 0; Item: widget 0; Quantity: 1; Shipped: 2024-01-01" in doc.text
    first = doc.sections[0]
    assert first.heading.startswith("Orders > rows 2\u2013")
    # row ranges tile the sheet: each section starts where the previous ended
    ranges = [s.heading.split("rows ")[1].split("\u2013") for s in doc.sections if s.heading.startswith("Orders")]
    assert int(ranges[0][0]) == 2 and int(ranges[-1][1]) == 61
    assert all(int(b[0]) == int(a[1]) + 1 for a, b in zip(ranges, ranges[1:]))
    for s in doc.sections:  # a section holds exactly the rows its heading names
        lo, hi = (int(x) for x in s.heading.rsplit(" ", 1)[1].split("\u2013")) if "rows" in s.heading else (0, 0)
        if lo:
            assert doc.text[s.start : s.end].count("\n") == hi - lo
    notes = section_of(doc, "Lighthouse lamps are trimmed at dusk.")
    assert notes.heading == "Notes > row 1"  # a lone text row is data, not a header
    assert "A: Lighthouse lamps" in doc.text


def test_csv_and_tsv_with_sniffed_dialect_and_encoding(tmp_path):
    doc = read(O.make_csv(tmp_path / "weather.csv", rows=5))
    assert doc.kind == "csv"
    assert doc.text.splitlines()[0] == (
        "id: 1; city: Zürich 0; temperature: -5.5; remark: reading number 1 at the café near the Große Brücke"
    )
    assert doc.sections[0].heading == "rows 2\u20136"
    semi = read(O.make_csv(tmp_path / "weather-eu.csv", rows=3, delimiter=";", encoding="cp1252"))
    assert "city: Zürich 1" in semi.text and "Große Brücke" in semi.text  # cp1252 decoded, ';' sniffed
    tsv = read(O.make_csv(tmp_path / "weather.tsv", rows=3, delimiter="\t", encoding="utf-16"))
    assert "remark: reading number 3" in tsv.text


@pytest.mark.slow
def test_a_huge_sheet_is_read_in_bounded_memory_and_the_cut_is_reported(tmp_path):
    """Peak memory of reading a CSV does not grow with its length past the text cap.

    100k and 300k rows (1M rows takes minutes under tracemalloc; the reader
    streams, so the shape of the curve is what matters): both hit the cap,
    and the peak Python allocation of the larger is within 15% of the smaller.
    """
    small = O.make_csv(tmp_path / "small.csv", rows=100_000).read_bytes()
    large = O.make_csv(tmp_path / "large.csv", rows=300_000).read_bytes()
    peaks = []
    for data in (small, large):
        tracemalloc.start()
        doc = extract_delimited(data)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert len(doc.text) <= table.MAX_TABLE_CHARS
        assert doc.notes and "past the limit" in doc.notes[0] and "up to row" in doc.notes[0]
        del doc
    assert peaks[1] < 1.15 * peaks[0], peaks
    assert peaks[1] < 6 * table.MAX_TABLE_CHARS  # the text, its pieces, the heading list: a small multiple


def test_cell_values_read_as_a_person_would():
    import datetime as dt

    assert [table.cell_text(v) for v in (3.0, 2.5, True, None, dt.datetime(2024, 3, 1), " a \n b ")] == [
        "3", "2.5", "TRUE", "", "2024-03-01", "a b"
    ]
    assert [table.letter_name(i) for i in (0, 25, 26, 701)] == ["A", "Z", "AA", "ZZ"]


# ---------------------------------------------------------------- EPUB and ODT


def test_epub_chapters_in_spine_order_titles_from_the_toc(tmp_path):
    doc = read(O.make_epub(tmp_path / "tales.epub"))
    assert doc.kind == "epub" and doc.title == "Coastal Tales"
    assert doc.text.index("trimmed the lamp") < doc.text.index("milky turquoise")
    assert section_of(doc, "trimmed the lamp").heading == "Chapter One: The Keeper"
    assert section_of(doc, "lantern glass").heading == "Chapter One: The Keeper > Storms"
    # chapter two has no heading of its own: the table of contents names it
    assert section_of(doc, "milky turquoise").heading == "Chapter Two: The Glacier"


def test_odt_headings_paragraphs_and_tables(tmp_path):
    doc = read(O.make_odt(tmp_path / "handbook.odt"))
    assert doc.kind == "odt" and doc.title == "Workshop handbook"
    assert section_of(doc, "Hide glue").heading == "Workshop"
    assert section_of(doc, "waterstone").heading == "Workshop > Sharpening"
    assert "plane\tsmoothing\nsaw\tdovetail" in doc.text


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kind", ["pptx", "xlsx", "docx"])
def test_password_protected_office_files_are_named_as_such(tmp_path, kind):
    plain = {"pptx": O.make_pptx, "xlsx": O.make_xlsx, "docx": D.make_docx}[kind](tmp_path / f"plain.{kind}")
    locked = O.encrypt_office(plain, tmp_path / f"locked.{kind}")
    with pytest.raises(SkipFile, match=rf"^password-protected {kind.upper()} \(encrypted"):
        read(locked)


def test_an_old_binary_office_file_with_a_new_name_is_named(tmp_path):
    import olefile  # comes with msoffcrypto-tool; writes nothing, so take a real OLE header

    path = tmp_path / "old.xlsx"
    path.write_bytes(olefile.MAGIC + bytes(2048))
    with pytest.raises(SkipFile, match=r"^not a XLSX file: an old binary Office file"):
        read(path)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
@pytest.mark.parametrize("name", ["bomb.docx", "bomb.xlsx", "bomb.pptx", "bomb.epub", "bomb.odt"])
def test_zip_bombs_are_refused_before_unpacking(tmp_path, name, bomb):
    path = tmp_path / name
    path.write_bytes(bomb)
    tracemalloc.start()
    with pytest.raises(SkipFile, match=r"refused: it would unpack to more than 1 GB \(a zip bomb"):
        read(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 1024**2  # nothing was inflated


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> bytes:
    path = O.make_zip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.zip", size=MAX_UNPACKED_BYTES + 2**20)
    return path.read_bytes()


def test_a_high_ratio_member_is_refused(tmp_path):
    path = tmp_path / "dense.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bytes(64 * 1024**2))
    assert path.stat().st_size < 100_000
    with pytest.raises(SkipFile, match=r"^XLSX refused: part 'xl/worksheets/sheet1.xml' is compressed [\d,]+:1 \(a zip bomb\)$"):
        read(path)


@pytest.mark.parametrize(
    "build, reason",
    [
        (O.make_corrupt_epub, r"^corrupt or unreadable EPUB: not a valid ZIP container"),
        (lambda p: O.make_epub(p, drm=True), r"^DRM-protected EPUB"),
        (lambda p: p.write_bytes(_zip({"mimetype": "application/epub+zip"})), r"^corrupt or unreadable EPUB: no META-INF"),
    ],
    ids=["truncated", "drm", "no-container"],
)
def test_bad_epubs_are_skipped_with_reasons(tmp_path, build, reason):
    path = tmp_path / "book.epub"
    build(path)
    with pytest.raises(SkipFile, match=reason):
        read(path)


@pytest.mark.parametrize("name", ["broken.pptx", "broken.xlsx", "broken.odt"])
def test_zips_without_the_documents_parts_are_corrupt(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(_zip({"hello.txt": "no document in here"}))
    with pytest.raises(SkipFile, match=rf"^corrupt or unreadable {name.split('.')[1].upper()}"):
        read(path)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_folder_of_office_files_and_bad_ones_indexes_the_good_and_names_the_bad(store, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    # The bomb here packs 64 MB into 64 KB (refused for its ratio, built in a fraction of a second); the 1 GB bombs of
    # every format, seconds to build, are refused in test_zip_bombs_are_refused_before_unpacking.
    bomb = O.make_zip_bomb(tmp_path / "dense.zip", size=64 * 1024**2, level=9).read_bytes()
    O.make_pptx(folder / "deck.pptx")
    O.make_xlsx(folder / "orders.xlsx", rows=20)
    O.make_csv(folder / "weather.csv", rows=20)
    O.make_epub(folder / "tales.epub")
    O.make_odt(folder / "handbook.odt")
    O.encrypt_office(O.make_xlsx(tmp_path / "plain.xlsx"), folder / "locked.xlsx")
    (folder / "bomb.docx").write_bytes(bomb)
    O.make_corrupt_epub(folder / "broken.epub")
    report = store.index([folder])
    assert report.added == 5 and not report.cancelled
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert set(reasons) == {"locked.xlsx", "bomb.docx", "broken.epub"}
    assert reasons["locked.xlsx"].startswith("password-protected XLSX")
    assert "zip bomb" in reasons["bomb.docx"]
    assert reasons["broken.epub"].startswith("corrupt or unreadable EPUB")
    hit = store.search("storm surges peaked in March", k=1, mode="bm25")[0]
    assert hit.path.endswith("deck.pptx") and hit.page == 1 and hit.heading == "Harbour survey"
    row = store.search("customer 7 widget", k=1, mode="bm25")[0]
    assert row.path.endswith("orders.xlsx") and row.heading.startswith("Orders > rows ")
