"""Live folders in the app, offscreen on real workers: the Library follows files changed on disk."""

from __future__ import annotations

import pytest
from test_store import write_docs
from ui_screenshots import WAIT_MS, drop, make_window, save_screenshot, test_settings, wait_job  # noqa: F401

from ragdesk.settings import Settings
from ragdesk.store import KnowledgeStore


def documents_shown(window) -> int:
    """The documents column of the first collection row in the Library."""
    model = window.library.model
    return int(model.index(0, 1).data() or 0) if model.rowCount() else 0


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_the_library_follows_files_created_renamed_and_deleted_while_the_app_runs(make_window, qtbot, tmp_path):
    folder = write_docs(tmp_path / "docs")
    with KnowledgeStore(settings=test_settings()) as store:  # an earlier session indexed the folder
        store.index([folder])
    (folder / "while-closed.md").write_text("Written while ragdesk was closed: tides and the moon.")

    window = make_window()
    live = window.controller.live_sync
    panel = window.library.live_sync
    # At start: the folder is watched and the change made while closed is caught up.
    qtbot.waitUntil(lambda: documents_shown(window) == 4, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: live.folders == [str(folder)], timeout=WAIT_MS)
    assert panel.status.text().startswith("Watching 1 folder")

    new = folder / "live.md"
    new.write_text("Created on disk while the app runs: glaciers carve valleys.")
    qtbot.waitUntil(lambda: documents_shown(window) == 5, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(a.change == "added" and a.path == str(new) for a in live.activity), timeout=WAIT_MS)
    assert "last sync" in panel.status.text() or "syncing" in panel.status.text()
    panel.toggle.click()
    assert panel.activity.isVisible()
    top = panel.activity.topLevelItem(0)
    assert (top.text(1), top.text(2)) == ("Added", "live.md")

    new.rename(folder / "renamed.md")
    qtbot.waitUntil(lambda: any(a.change == "moved" for a in live.activity), timeout=WAIT_MS)
    top = panel.activity.topLevelItem(0)
    assert (top.text(1), top.text(2)) == ("Moved", "live.md → renamed.md")
    assert documents_shown(window) == 5

    (folder / "renamed.md").unlink()
    qtbot.waitUntil(lambda: documents_shown(window) == 4, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.activity.topLevelItem(0).text(1) == "Forgot", timeout=WAIT_MS)
    save_screenshot(window, "library-live-sync")

    # Live sync and the ignore files, off in the Settings dialog: nothing is watched any more.
    dialog = window.open_settings()
    assert dialog.live_sync.isChecked() and dialog.ignore_files.isChecked()
    dialog.live_sync.setChecked(False)
    dialog.ignore_files.setChecked(False)
    dialog.accept()
    qtbot.waitUntil(lambda: live.folders == [], timeout=WAIT_MS)
    assert panel.status.text() == "Live sync is off (Settings)"
    assert live.worker.watcher is None
    qtbot.waitUntil(lambda: window.controller.index_worker.settings.respect_ignore_files is False, timeout=WAIT_MS)
    saved = Settings.load()
    assert (saved.live_sync, saved.respect_ignore_files) == (False, False)


def test_a_finished_index_lists_what_ignore_rules_left_out(make_window, qtbot, tmp_path):
    folder = write_docs(tmp_path / "proj")
    (folder / ".gitignore").write_text("# generated\nout/\n")
    (folder / "out").mkdir()
    (folder / "out" / "report.md").write_text("Generated output.")
    (folder / "node_modules").mkdir()
    window = make_window(live_sync=False)
    assert drop(window.library, [folder])
    job = next(iter(window.controller.jobs.values()))
    wait_job(qtbot, window, job)
    widget = window.library.job_widgets[job.id]
    assert widget.ignored_button.isVisible() and widget.ignored_button.text() == "2 skipped by ignore rules"
    widget.ignored_button.click()
    assert widget.ignored.isVisible()
    rows = {widget.ignored.topLevelItem(i).text(0): widget.ignored.topLevelItem(i).text(1)
            for i in range(widget.ignored.topLevelItemCount())}
    assert rows == {"out/": f".gitignore:2 `out/` in {folder}", "node_modules/": "skip list `node_modules`"}
