"""The Library panel on the real store: drops index folders, counts show, cancel, re-sync, forget, search."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest
from support.documents import BAD_SAMPLE_FILES, build_sample_folder, make_pdf
from ui_screenshots import WAIT_MS, drop, make_window, save_screenshot, wait_job  # noqa: F401,F811 - make_window is a fixture

from ragdesk.ui.item_models import KIND_ROLE, PATH_ROLE
from ragdesk.ui.qt import QMessageBox, Qt


def rows(model, parent=None):
    """(display text, documents column) of each row under ``parent``."""
    from ragdesk.ui.qt import QModelIndex

    parent = parent or QModelIndex()
    return [
        (model.index(r, 0, parent).data(), model.index(r, 1, parent).data())
        for r in range(model.rowCount(parent))
    ]


def test_dropping_a_folder_indexes_it_and_the_library_shows_the_counts(make_window, qtbot, tmp_path):
    window = make_window()
    library = window.library
    assert library.pages.currentWidget() is library.hint  # empty library: the drop hint
    folder = tmp_path / "docs"
    good = build_sample_folder(folder)

    # A real drop on the (empty) library panel, as from a file manager.
    assert drop(library, [folder])
    job = next(iter(window.controller.jobs.values()))
    assert job.kind == "index" and job.paths == [str(folder)] and job.collection == "default"
    wait_job(qtbot, window, job)
    assert job.state == "done", job.error

    model = library.model
    assert library.pages.currentWidget() is library.tree
    assert rows(model) == [("default", str(len(good)))]
    collection = model.index(0, 0)
    assert collection.data(KIND_ROLE) == "collection"
    source = model.index(0, 0, collection)
    assert source.data(PATH_ROLE) == str(folder)
    assert model.index(0, 1, collection).data() == str(len(good))

    # The finished job lists the skipped files with their reasons.
    widget = library.job_widgets[job.id]
    assert "8 added" in widget.detail.text()
    skipped = {
        widget.skipped.topLevelItem(i).toolTip(0): widget.skipped.topLevelItem(i).text(1)
        for i in range(widget.skipped.topLevelItemCount())
    }
    for rel, reason_start in BAD_SAMPLE_FILES.items():
        path = str(folder / rel)
        assert path in skipped and reason_start.lower() in skipped[path].lower()
    assert widget.skipped_button.isVisible() and not widget.skipped.isVisible()
    widget.skipped_button.click()
    assert widget.skipped.isVisible()

    # RAG became possible once the collection had chunks.
    qtbot.waitUntil(lambda: window.mode_bar.buttons["rag"].isEnabled(), timeout=WAIT_MS)

    # Re-sync from the folder's context menu: nothing changed, so nothing is re-indexed.
    menu = library.build_context_menu(source)
    resync = next(a for a in menu.actions() if a.objectName() == "resyncSource")
    resync.trigger()
    again = max(window.controller.jobs.values(), key=lambda j: j.id)
    wait_job(qtbot, window, again)
    assert again.result.unchanged == len(good) and again.result.added == 0

    # Forget (after confirming in the dialog): the documents leave the library.
    menu = library.build_context_menu(library.model.index(0, 0, library.model.index(0, 0)))
    next(a for a in menu.actions() if a.objectName() == "forgetSource").trigger()
    box = next(b for b in library.findChildren(QMessageBox) if b.isVisible())
    next(b for b in box.buttons() if b.text() == "Forget").click()
    forget = max(window.controller.jobs.values(), key=lambda j: j.id)
    assert forget.kind == "forget"
    wait_job(qtbot, window, forget)
    assert forget.result == len(good)
    qtbot.waitUntil(lambda: rows(library.model) == [("default", "0")], timeout=WAIT_MS)


def test_drop_onto_a_collection_row_indexes_into_that_collection(make_window, qtbot, tmp_path):
    window = make_window()
    c = window.controller
    wait_job(qtbot, window, c.create_collection("papers"))
    (tmp_path / "a.md").write_text("# Ferns\n\nFerns reproduce with spores, not seeds.\n")
    wait_job(qtbot, window, c.index_paths([tmp_path / "a.md"], "default"))
    tree = window.library.tree
    papers = window.library.model.collection_index("papers")
    assert papers.isValid()
    note = tmp_path / "notes"
    note.mkdir()
    (note / "moss.txt").write_text("Mosses have no roots; rhizoids anchor them to rocks.")

    pos = tree.visualRect(papers).center()
    assert drop(tree.viewport(), [note], pos)
    job = max(c.jobs.values(), key=lambda j: j.id)
    assert job.collection == "papers"
    wait_job(qtbot, window, job)
    assert job.state == "done", job.error
    assert job.result.added == 1, job.result
    by_name = {info.name: info for info in c.collections()}
    assert by_name["papers"].documents == 1 and by_name["default"].documents == 1
    assert c.collection == "papers"  # the drop target became the current collection


def test_sentence_level_search_is_turned_on_and_off_from_a_collection_menu(make_window, qtbot, tmp_path):
    from ragdesk.ui.library.jobs import progress_text, summary_text

    window = make_window()
    c = window.controller
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kestrels.txt").write_text(
        "Kestrels hunt over open fields. They hover facing into the wind. Voles are their main prey. "
        "Pairs nest on ledges and in old crows' nests."
    )
    wait_job(qtbot, window, c.index_paths([docs], "birds"))
    library = window.library

    def toggle():
        menu = library.build_context_menu(library.model.collection_index("birds"))
        action = next(a for a in menu.actions() if a.objectName() == "sentenceWindows")
        checked = action.isChecked()
        action.trigger()  # a checkable action flips, and the flip submits the job
        job = max(c.jobs.values(), key=lambda j: j.id)
        wait_job(qtbot, window, job)
        assert job.state == "done", job.error
        return checked, job

    was_on, on = toggle()
    assert not was_on and on.kind == "windows-on"
    assert on.result.windows_filled == 1
    assert "Sentence windows added to 1 chunk" in summary_text(on)
    assert c.has_sentence_windows("birds")
    hits = c.store.search("hovering into the wind", collection="birds", k=1, mode="vector")
    assert hits and hits[0].score > hits[0].similarity  # scored by its best window

    from ragdesk.store.indexer import IndexProgress

    filling = IndexProgress("indexing", detail="sentence windows: 80 of 120 chunks")
    assert progress_text(filling) == "Sentence windows: 80 of 120 chunks…"

    was_on, off = toggle()
    assert was_on and off.kind == "windows-off"
    assert "off in 'birds'" in summary_text(off)
    assert not c.has_sentence_windows("birds")


def test_indexing_can_be_cancelled_and_shows_progress(make_window, qtbot, tmp_path):
    window = make_window()
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(600):  # several embedding batches, so a cancel lands mid-run
        (folder / f"note{i:03}.txt").write_text(f"Note {i}: the lighthouse keeper logged ship number {i} at dawn.")
    progress = []
    window.controller.jobProgress.connect(lambda job, p: progress.append(p))

    assert drop(window, [folder])  # dropped on the window itself, outside the library
    job = next(iter(window.controller.jobs.values()))
    qtbot.waitUntil(
        lambda: any(p is not None and (p.bytes_done >= 0.2 * p.bytes_total > 0 or p.chunks_done) for p in progress),
        timeout=WAIT_MS,
    )
    widget = window.library.job_widgets[job.id]
    assert widget.cancel_button.isVisible()
    assert "of 600 files indexed" in widget.detail.text()
    # The new collection shows while its first run goes on (once the read asked for at its start is back).
    qtbot.waitUntil(lambda: window.library.pages.currentWidget() is window.library.tree, timeout=WAIT_MS)
    save_screenshot(window, "indexing-in-progress")

    qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
    wait_job(qtbot, window, job)
    assert job.state == "cancelled" and job.result.cancelled
    indexed = window.controller.collections()[0].documents
    assert indexed == job.result.added < 600
    assert "Cancelled" in widget.detail.text()
    assert not widget.cancel_button.isVisible()


def test_search_works_without_a_model(make_window, qtbot, tmp_path):
    window = make_window()
    (tmp_path / "docs").mkdir()
    make_pdf(tmp_path / "docs" / "report.pdf")
    (tmp_path / "docs" / "bread.md").write_text("# Bread\n\nSourdough needs a starter of flour and water.\n")
    wait_job(qtbot, window, window.controller.index_paths([tmp_path / "docs"]))
    assert window.controller.model_state == "none"

    search = window.library.search
    qtbot.keyClicks(search, "glacier survey ice front")
    qtbot.keyClick(search, Qt.Key.Key_Return)
    panel = window.citations
    qtbot.waitUntil(lambda: panel.model.rowCount() > 0, timeout=WAIT_MS)
    assert "Search results" in panel.title.text()
    assert Path(panel.current.hit.path).name == "report.pdf"
    assert "glacier survey measured the ice front" in panel.highlighted_passage()
    assert panel.where.text().count("page") == 1


@pytest.mark.parametrize(
    "fault, sentence",
    [
        (apsw.FullError("database or disk is full"), "The disk is full"),
        (apsw.BusyError("database is locked"), "The database is locked by another program"),
    ],
)
def test_a_failing_write_shows_a_dialog_and_the_app_keeps_running(make_window, qtbot, tmp_path, monkeypatch, fault, sentence):
    from ragdesk.store import documents

    window = make_window()
    (tmp_path / "a.txt").write_text("Kettles need descaling every six weeks.")

    def failing_write(*args, **kwargs):  # the disk fills up (or another program locks the file) mid-run
        raise fault

    monkeypatch.setattr(documents, "write_document", failing_write)
    job = window.controller.index_paths([tmp_path / "a.txt"])
    wait_job(qtbot, window, job)
    assert job.state == "failed"
    qtbot.waitUntil(lambda: window.last_error is not None and window.last_error.isVisible(), timeout=WAIT_MS)
    assert window.last_error.text().startswith(sentence)
    assert window.last_error.windowTitle() == "Indexing failed"
    assert "Failed:" in window.library.job_widgets[job.id].detail.text()
    window.last_error.button(QMessageBox.StandardButton.Ok).click()

    monkeypatch.undo()  # the disk has room again: the same drop now works
    again = window.controller.index_paths([tmp_path / "a.txt"])
    wait_job(qtbot, window, again)
    assert again.state == "done" and window.controller.collections()[0].documents == 1


def test_closing_the_window_while_indexing_cancels_and_joins_the_workers(make_window, qtbot, tmp_path):
    import time

    window = make_window()
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(600):
        (folder / f"n{i:03}.txt").write_text(f"Entry {i}: the ferry left the harbour at {i % 24} o'clock.")
    progress = []
    window.controller.jobProgress.connect(lambda job, p: progress.append(p))
    job = window.controller.index_paths([folder])
    qtbot.waitUntil(lambda: any(p is not None and p.bytes_done > 0 for p in progress), timeout=WAIT_MS)

    start = time.monotonic()
    window.close()
    assert time.monotonic() - start < 15  # cancelled between files: at most one batch to finish
    threads = [t.thread for t in window.controller._threads]
    assert all(t.isFinished() for t in threads)
    assert job.cancel.is_set() and job.state in ("cancelled", "done")
