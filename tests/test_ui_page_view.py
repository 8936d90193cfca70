"""A cited PDF passage shown where it is printed: the real page, rendered off the GUI thread, highlighted."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support import documents as D
from ui_screenshots import make_window, wait_job  # noqa: F401 - make_window is a fixture

from ragdesk.page_locate import VIEW_DPI
from ragdesk.ui.chat.sources_panel import CitationsPanel
from ragdesk.ui.qt import QColor, Qt

WAIT_MS = 60_000


@pytest.fixture
def panel(qtbot, store):
    panel = CitationsPanel(store.document_text)
    qtbot.addWidget(panel)
    panel.resize(700, 900)
    panel.show()
    yield panel
    panel.shutdown()


def phrase_box_px(path, page: int, phrase: str):
    """Where PDFium says ``phrase`` is printed on ``page``, in view pixels (x0, y0, x1, y1)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        p = pdf[page - 1]
        height = p.get_height()
        text_page = p.get_textpage()
        searcher = text_page.search(phrase)
        start, count = searcher.get_next()
        boxes = [text_page.get_charbox(i) for i in range(start, start + count)]
        scale = VIEW_DPI / 72
        x0, x1 = min(b[0] for b in boxes) * scale, max(b[2] for b in boxes) * scale
        y0, y1 = (height - max(b[3] for b in boxes)) * scale, (height - min(b[1] for b in boxes)) * scale
        return x0, y0, x1, y1
    finally:
        pdf.close()


def tinted_share(image, box, color: QColor) -> float:
    """Share of the pixels inside ``box`` that carry the highlight colour (background under the tint)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    total = hits = 0
    for y in range(y0 + 1, y1 - 1, 2):
        for x in range(x0 + 1, x1 - 1, 3):
            total += 1
            pixel = image.pixelColor(x, y)
            hits += abs(pixel.red() - color.red()) + abs(pixel.green() - color.green()) + abs(pixel.blue() - color.blue()) < 30
    return hits / max(1, total)


def test_clicking_a_pdf_citation_shows_its_page_with_the_passage_highlighted(qtbot, panel, store, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    pdf = D.make_pdf(folder / "report.pdf")
    D.write_text(folder / "notes.md", "# Notes\n\nThe glacier survey notes are kept in a drawer.\n")
    store.index([folder])
    hits = store.search("glacier meltwater milky turquoise rock flour", k=5, mode="bm25")
    hit = next(h for h in hits if h.path.endswith("report.pdf"))
    assert hit.page == 2 and "milky turquoise" in hit.text

    panel.show_search("glacier", [hit])
    viewer = panel.page_viewer
    qtbot.waitUntil(lambda: viewer.shown is not None and viewer.shown.page == 2, timeout=WAIT_MS)
    assert panel.views.currentWidget() is viewer and panel.view_button.isVisible()
    assert viewer.status.text() == "Page 2 of 3 · passage highlighted"
    shown = viewer.shown
    assert shown.boxes and not shown.by_ocr

    # The highlight covers the passage where PDFium says it is printed...
    x0, y0, x1, y1 = phrase_box_px(pdf, 2, "milky turquoise")
    assert any(b[0] - 2 <= x0 and x1 <= b[2] + 2 and b[1] - 2 <= y0 and y1 <= b[3] + 2 for b in shown.boxes)
    # ...and is drawn there in the highlight colour, while the page below the text stays white.
    image = shown.image
    color = shown.request.color
    assert tinted_share(image, shown.boxes[0], color) > 0.5
    margin = (int(x0), image.height() - 40, int(x1), image.height() - 10)
    assert tinted_share(image, margin, QColor("white")) > 0.95

    # Page navigation: the next page has no highlight, coming back shows it again.
    qtbot.mouseClick(viewer.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: viewer.shown.page == 3, timeout=WAIT_MS)
    assert viewer.shown.boxes == [] and not viewer.next_button.isEnabled()
    viewer.go(-1)
    qtbot.waitUntil(lambda: viewer.shown.page == 2, timeout=WAIT_MS)
    assert viewer.shown.boxes == shown.boxes

    # "Text" switches to the extracted text with the passage highlighted in it; "Page" back.
    panel.view_button.click()
    assert panel.views.currentWidget() is panel.context
    assert panel.highlighted_passage() == hit.text
    panel.view_button.click()
    assert panel.views.currentWidget() is viewer

    # Other formats keep the text view; "Open source" stays.
    md = next(h for h in store.search("glacier survey notes drawer", k=5, mode="bm25") if h.path.endswith(".md"))
    panel.show_search("drawer", [md])
    assert panel.views.currentWidget() is panel.context and not panel.view_button.isVisible()
    assert panel.open_button.isEnabled()


def test_the_sources_panel_says_when_a_passage_was_read_by_ocr(qtbot, panel, store, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    D.write_text(folder / "notes.md", "# Notes\n\nLantern glass was replaced on the north tower.\n")
    store.index([folder])
    hit = store.search("lantern glass north tower", k=1, mode="bm25")[0]
    panel.show_search("lantern", [replace(hit, ocr_confidence=0.87)])
    assert "read by OCR, 87% confidence" in panel.where.text()
    panel.show_search("lantern", [hit])
    assert "OCR" not in panel.where.text()


@pytest.mark.slow
def test_the_library_shows_each_page_being_ocrd_and_cancel_stops_the_scan(make_window, qtbot, tmp_path):
    from support import office as O

    window = make_window()
    folder = tmp_path / "scans"
    folder.mkdir()
    O.make_scan_pdf(folder / "ledger.pdf", pages=3)
    shown: list[str] = []

    def seen(job, _progress):
        widget = window.library.job_widgets.get(job.id)
        if widget is not None and widget.current.text() not in shown:
            shown.append(widget.current.text())
            if widget.current.text() == "ledger.pdf · OCR page 2/3":
                window.controller.cancel_job(job)  # the Cancel button's call

    window.controller.jobProgress.connect(seen)
    job = window.controller.index_paths([str(folder)])
    wait_job(qtbot, window, job, timeout=600_000)  # OCR pages take seconds each on a busy machine
    assert "ledger.pdf · OCR page 1/3" in shown and "ledger.pdf · OCR page 2/3" in shown
    assert "ledger.pdf · OCR page 3/3" not in shown  # cancelled between pages
    assert job.state == "cancelled" and job.result.cancelled
    assert "Cancelled" in window.library.job_widgets[job.id].detail.text()
