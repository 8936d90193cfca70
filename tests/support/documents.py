"""Builders of real document files with known content, for ingestion and indexer tests.

Every builder writes a genuine file (fpdf2 for PDF, python-docx for DOCX,
pypdf for encryption) and the module-level constants say what a correct
extraction finds in it. ``build_sample_folder`` lays out one file of each
kind plus the bad inputs, for end-to-end indexing tests.
"""

from __future__ import annotations

import io
from pathlib import Path

# ---------------------------------------------------------------- prose

_TOPICS = (
    ("lighthouse", "The harbour lighthouse was built from granite quarried on the northern cape."),
    ("glacier", "Glacier meltwater carries fine rock flour that turns the lake a milky turquoise."),
    ("bakery", "The village bakery proofs its rye dough overnight in cool stone cellars."),
    ("violin", "A violin's varnish changes how the spruce top vibrates at high frequencies."),
    ("orchard", "Old apple orchards are grafted onto hardy rootstock to survive late frosts."),
    ("telescope", "The observatory telescope tracks faint comets with a cooled infrared camera."),
)


def paragraph(topic: int, index: int, sentences: int = 5) -> str:
    """A deterministic paragraph of distinct, ordinary sentences."""
    word, lead = _TOPICS[topic % len(_TOPICS)]
    out = [lead]
    for s in range(1, sentences):
        out.append(
            f"Observation {index}.{s} about the {word} notes that conditions varied "
            f"between seasons, and the records from year {1900 + 7 * index + s} agree."
        )
    return " ".join(out)


def long_text(paragraphs: int = 12, sentences: int = 5) -> str:
    """Several paragraphs separated by blank lines (a few hundred tokens each few)."""
    return "\n\n".join(paragraph(i, i, sentences) for i in range(paragraphs))


# ---------------------------------------------------------------- PDF

PDF_PAGES = [
    "Lighthouse keepers logged the weather every four hours.\n" + paragraph(0, 1),
    "The glacier survey measured the ice front with a theodolite.\n" + paragraph(1, 2),
    "Rye bread needs a sour starter and a long, slow rise.\n" + paragraph(2, 3),
]
# page index (0-based) -> (outline level, title): drawn in a large font and bookmarked.
PDF_HEADINGS = {0: (1, "Coastal Records"), 2: (1, "Village Bakery")}


def make_pdf(
    path: Path,
    pages: list[str] = PDF_PAGES,
    headings: dict[int, tuple[int, str]] | None = PDF_HEADINGS,
) -> Path:
    """A text PDF: one page per string, optional bookmarked headings at page tops."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    for index, text in enumerate(pages):
        pdf.add_page()
        if headings and index in headings:
            level, title = headings[index]
            pdf.start_section(title, level=level - 1)
            pdf.set_font("Helvetica", "B", 18)
            pdf.cell(0, 10, title)
            pdf.ln(14)
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 5, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF with drawings but no text layer, like a scan."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.line(10, 10, 150, 150)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_encrypted_pdf(path: Path, user_password: str = "secret", owner_password: str = "owner") -> Path:
    """A real PDF encrypted with pypdf (RC4-128; opens only with ``user_password``).

    With ``user_password=""`` anyone may open it (only editing is restricted).
    """
    from pypdf import PdfWriter

    source = make_pdf(path)
    writer = PdfWriter(clone_from=io.BytesIO(source.read_bytes()))
    writer.encrypt(user_password, owner_password)
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def make_truncated_pdf(path: Path, keep: float = 0.6) -> Path:
    """A real PDF cut off part way, as after an interrupted download."""
    data = make_pdf(path).read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# ---------------------------------------------------------------- DOCX

DOCX_TITLE = "Field Handbook"
DOCX_BLOCKS = [
    # (style or "table", content)
    ("Title", DOCX_TITLE),
    ("Normal", "This handbook collects practical notes from the field teams."),
    ("Heading 1", "Equipment"),
    ("Normal", "Every team carries a compass, a first aid kit and spare batteries."),
    ("Heading 2", "Radios"),
    ("Normal", "Handheld radios are charged each evening and tested each morning."),
    ("table", [["Item", "Count"], ["Radio", "4"], ["Compass", "6"]]),
    ("Heading 1", "Safety"),
    ("Normal", "Nobody crosses the river alone after heavy rain."),
]
DOCX_SECTIONS = {  # heading path -> a phrase inside that section
    "Field Handbook": "practical notes from the field teams",
    "Field Handbook > Equipment": "spare batteries",
    "Field Handbook > Equipment > Radios": "Radio\t4",
    "Field Handbook > Safety": "crosses the river alone",
}


def make_docx(path: Path, blocks=DOCX_BLOCKS) -> Path:
    """A Word document with Title, Heading 1/2 paragraphs and a table."""
    import docx

    document = docx.Document()
    for style, content in blocks:
        if style == "table":
            table = document.add_table(rows=len(content), cols=len(content[0]))
            for r, row in enumerate(content):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            document.add_paragraph(content, style=style)
    document.save(str(path))
    return path


# ---------------------------------------------------------------- HTML, Markdown, RST, code

HTML_PAGE = """<!DOCTYPE html>
<html><head><title>Orchard notes</title><style>body { color: red; }</style>
<script>var hidden = "never indexed";</script></head>
<body>
<p>Welcome to the <b>orchard</b> pages.</p>
<h1>Apples</h1>
<p>Grafted trees fruit after three years.</p>
<h2>Pruning</h2>
<p>Prune in late winter, before the buds swell.</p>
<ul><li>Remove dead wood</li><li>Open the centre</li></ul>
<h1>Pears</h1>
<div>Pears ripen off the tree<br>in a cool room.</div>
<!-- a comment that is not text -->
</body></html>
"""
HTML_SECTIONS = {
    None: "Welcome to the orchard pages.",
    "Apples": "Grafted trees fruit after three years.",
    "Apples > Pruning": "Remove dead wood\nOpen the centre",
    "Pears": "Pears ripen off the tree\nin a cool room.",
}

MARKDOWN_DOC = """Preface text before any heading.

Guide
=====

The guide explains the telescope.

## Install

Unpack the tripod.

```sh
# this is a shell comment, not a heading
mount --tripod
```

### Linux

Use the udev rule for the camera.

Windows
-------

Install the camera driver first.

# Appendix

Spare parts list.
"""
MARKDOWN_SECTIONS = {
    None: "Preface text before any heading.",
    "Guide": "The guide explains the telescope.",
    "Guide > Install": "# this is a shell comment, not a heading",
    "Guide > Install > Linux": "Use the udev rule for the camera.",
    "Guide > Windows": "Install the camera driver first.",
    "Appendix": "Spare parts list.",
}

RST_DOC = """==========
User Guide
==========

The user guide covers the violin workshop.

Tools
=====

Chisels and gouges are kept sharp.

Varnish
-------

Oil varnish dries slowly in sunlight.

Glues
=====

Hide glue is reversible with heat.
"""
RST_SECTIONS = {
    "User Guide": "covers the violin workshop",
    "User Guide > Tools": "Chisels and gouges",
    "User Guide > Tools > Varnish": "Oil varnish dries slowly",
    "User Guide > Glues": "Hide glue is reversible",
}

PYTHON_CODE = '''"""Orchard utilities."""


def graft(scion, rootstock):
    """Join a scion to a rootstock and return the new tree."""
    return {"scion": scion, "rootstock": rootstock}


class Orchard:
    def __init__(self):
        self.trees = []

    def plant(self, tree):
        self.trees.append(tree)
'''

WESTERN_TEXT = (
    "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e \u2014 na\u00efve fa\u00e7ade, \u201cquoted\u201d text.\n"
    "La fa\u00e7ade \u00e9tait tr\u00e8s jolie, \u00e0 c\u00f4t\u00e9 du march\u00e9.\n"
)  # every character exists in Windows-1252


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` with an exact encoding (and newline handling untouched)."""
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- a mixed folder

def build_sample_folder(root: Path) -> dict[str, str]:
    """One good file of each kind (and a few bad ones) under ``root``.

    Returns ``{relative path: a phrase its extracted text contains}`` for the
    good files; bad files are listed in ``BAD_SAMPLE_FILES`` with the start of
    their skip reason.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / ".git").mkdir(exist_ok=True)
    (root / ".git" / "config.txt").write_text("never indexed")
    (root / "node_modules" / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "node_modules" / "pkg" / "readme.md").write_text("# never indexed\n")
    make_pdf(root / "docs" / "report.pdf")
    make_docx(root / "docs" / "handbook.docx")
    write_text(root / "docs" / "orchard.html", HTML_PAGE)
    write_text(root / "guide.md", MARKDOWN_DOC)
    write_text(root / "workshop.rst", RST_DOC)
    write_text(root / "orchard.py", PYTHON_CODE)
    write_text(root / "cafe.txt", WESTERN_TEXT, "cp1252")
    write_text(root / "notes.txt", long_text(4))
    (root / "song.mp3").write_bytes(b"ID3\x04" + bytes(64))
    make_encrypted_pdf(root / "docs" / "locked.pdf")
    make_truncated_pdf(root / "docs" / "broken.pdf")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (root / "empty.md").write_bytes(b"")
    return {
        "docs/report.pdf": "glacier survey measured the ice front",
        "docs/handbook.docx": "spare batteries",
        "docs/orchard.html": "Grafted trees fruit after three years.",
        "guide.md": "Use the udev rule for the camera.",
        "workshop.rst": "Hide glue is reversible with heat.",
        "orchard.py": "def graft(scion, rootstock):",
        "cafe.txt": "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",
        "notes.txt": "milky turquoise",
    }


BAD_SAMPLE_FILES = {
    "docs/locked.pdf": "encrypted PDF",
    "docs/broken.pdf": "corrupt or unreadable PDF",
    "binary.txt": "binary content",
    "empty.md": "empty file",
}
