"""Builders of real Office files, e-books, scans and bad inputs with known content.

Each writes a genuine file with the library made for the format (python-pptx,
openpyxl, odfdo, zipfile for EPUB, PIL + fpdf2 for scans, msoffcrypto-tool for
password protection); the constants say what a correct reader finds.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

# ---------------------------------------------------------------- slides

SLIDES = [
    ("Harbour survey", ["Tide gauges were read twice a day.", "Storm surges peaked in March."], "Mention the new pier."),
    ("Bakery plans", ["Rye loaves rise overnight in stone cellars."], None),
]


def make_pptx(path: Path, slides=SLIDES, title: str = "Field notes deck") -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = title
    for heading, bullets, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = heading
        slide.placeholders[1].text = "\n".join(bullets)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Crew"
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), text in {(0, 0): "Name", (0, 1): "Role", (1, 0): "Ada", (1, 1): "Navigator"}.items():
        table.cell(r, c).text = text
    deck.save(str(path))
    return path


# ---------------------------------------------------------------- sheets

def make_xlsx(path: Path, rows: int = 60) -> Path:
    """Two sheets: "Orders" with a header row and ``rows`` rows, "Notes" with loose text."""
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["Customer", "Item", "Quantity", "Shipped"])
    for i in range(rows):
        sheet.append([f"customer {i}", f"widget {i % 7}", i * 2 + 1, dt.date(2024, 1 + i % 12, 1 + i % 28)])
    notes = book.create_sheet("Notes")
    notes.append(["Lighthouse lamps are trimmed at dusk."])
    book.save(str(path))
    return path


def make_csv(path: Path, rows: int, *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    """A CSV with a header and ``rows`` numbered rows, written line by line."""
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(delimiter.join(["id", "city", "temperature", "remark"]) + "\n")
        for i in range(rows):
            fh.write(delimiter.join([str(i + 1), f"Zürich {i % 13}", f"{(i % 40) - 5}.5", f"reading number {i + 1} at the café near the Große Brücke"]) + "\n")
    return path


# ---------------------------------------------------------------- ODT

def make_odt(path: Path) -> Path:
    from odfdo import Document, Header, Paragraph, Table

    doc = Document("text")
    doc.meta.title = "Workshop handbook"
    body = doc.body
    body.append(Header(1, "Workshop"))
    body.append(Paragraph("Hide glue is reversible with heat."))
    body.append(Header(2, "Sharpening"))
    body.append(Paragraph("Hone the chisel on a fine waterstone."))
    table = Table("Tools", width=2, height=2)
    table.set_value((0, 0), "plane")
    table.set_value((1, 0), "smoothing")
    table.set_value((0, 1), "saw")
    table.set_value((1, 1), "dovetail")
    body.append(table)
    doc.save(str(path))
    return path


# ---------------------------------------------------------------- EPUB

EPUB_CHAPTERS = [
    ("Chapter One: The Keeper", "<h1>Chapter One: The Keeper</h1><p>The keeper trimmed the lamp at dusk.</p>"
     "<h2>Storms</h2><p>Winter storms broke the lantern glass twice.</p>"),
    ("Chapter Two: The Glacier", "<p>Meltwater turned the lake a milky turquoise.</p>"),
]


def make_epub(path: Path, chapters=EPUB_CHAPTERS, *, drm: bool = False, title: str = "Coastal Tales") -> Path:
    """A minimal valid EPUB 3 (nav document, spine) with the given chapters."""
    items, spine, nav = [], [], []
    files = {}
    for i, (heading, body) in enumerate(chapters, start=1):
        name = f"text/ch{i}.xhtml"
        files[f"OEBPS/{name}"] = (
            '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>{heading}</title></head><body>{body}</body></html>"
        )
        items.append(f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="c{i}"/>')
        nav.append(f'<li><a href="{name}">{heading}</a></li>')
    files["OEBPS/nav.xhtml"] = (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head><body>'
        f'<nav epub:type="toc"><ol>{"".join(nav)}</ol></nav></body></html>'
    )
    files["OEBPS/content.opf"] = (
        '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">urn:test</dc:identifier><dc:title>{title}</dc:title><dc:language>en</dc:language>'
        '</metadata><manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        f'{"".join(items)}</manifest><spine>{"".join(spine)}</spine></package>'
    )
    files["META-INF/container.xml"] = (
        '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    if drm:
        files["META-INF/encryption.xml"] = (
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
            '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            '<enc:CipherData><enc:CipherReference URI="OEBPS/text/ch1.xhtml"/></enc:CipherData>'
            "</enc:EncryptedData></encryption>"
        )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        for name, text in files.items():
            archive.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED)
    return path


def make_corrupt_epub(path: Path) -> Path:
    """A real EPUB cut in half: the ZIP directory at its end is gone."""
    make_epub(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# ---------------------------------------------------------------- bad containers

def make_zip_bomb(path: Path, member: str = "word/document.xml", size: int = 1100 * 1024**2, level: int = 1) -> Path:
    """A small ZIP declaring ``size`` bytes of zeros in one member (streamed: never held in memory)."""
    chunk = bytes(1024**2)
    # Level 1: zeros still shrink ~2,400:1 and the stream is written three times faster than at level 9.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(member, "w", force_zip64=True) as fh:
            for _ in range(size // len(chunk)):
                fh.write(chunk)
    return path


def encrypt_office(plain: Path, path: Path, password: str = "secret") -> Path:
    """The Office file ``plain`` saved with a password (ECMA-376 agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    with open(plain, "rb") as src, open(path, "wb") as out:
        OOXMLFile(src).encrypt(password, out)
    return path


# ---------------------------------------------------------------- scans

SCAN_LINES = [
    "Invoice 4711 from the harbour workshop",
    "Lantern glass replaced on the north tower",
    "Total due within thirty days",
]


def text_image(lines=SCAN_LINES, width: int = 1240, size: int = 34, margin: int = 80):
    """A white page image with ``lines`` in black, like a scanned letter (150 DPI A4 width)."""
    from PIL import Image, ImageDraw

    height = max(400, margin * 2 + len(lines) * size * 2)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(size)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * size * 2), line, fill="black", font=font)
    return image


def _font(size: int):
    from PIL import ImageFont

    for candidate in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def make_text_image(path: Path, lines=SCAN_LINES, fmt: str | None = None) -> Path:
    text_image(lines).save(path, format=fmt)
    return path


def make_blank_image(path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 400), "white")
    ImageDraw.Draw(image).ellipse((100, 80, 400, 300), outline="gray", width=6)
    image.save(path)
    return path


def scan_page_lines(page: int) -> list[str]:
    """The text on page ``page`` (1-based) of ``make_scan_pdf``."""
    return [f"Page {page} of the harbour ledger", f"Ship number {page * 7} arrived with timber", "Signed by the keeper"]


def make_scan_pdf(
    path: Path, pages: int = 3, *, text_pages: dict[int, str] | None = None, lines_for=scan_page_lines, size: int = 34
) -> Path:
    """An image-only PDF (each page a picture of text), optionally with real text pages mixed in.

    ``text_pages`` maps 1-based page numbers to text drawn as a text layer instead;
    ``lines_for(page)`` gives the lines pictured on a page, ``size`` their pixel height.
    """
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    for page in range(1, pages + 1):
        pdf.add_page()
        if text_pages and page in text_pages:
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 6, text_pages[page])
            continue
        buffer = io.BytesIO()
        text_image(lines_for(page), size=size).convert("L").save(buffer, format="PNG")
        buffer.seek(0)
        pdf.image(buffer, x=0, y=0, w=210)
    path.write_bytes(bytes(pdf.output()))
    return path
