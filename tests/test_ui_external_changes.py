"""The window sees what `ragdesk index` in a terminal did, and starts on a collection that exists."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ui_screenshots import WAIT_MS, make_window  # noqa: F401 - make_window is a fixture

from ragdesk.settings import Settings

RAGDESK = [sys.executable, "-m", "ragdesk"]


def _terminal_index(home, folder, collection: str) -> None:
    """What a user types in a terminal while the app is open: a separate process on the same database."""
    proc = subprocess.run([*RAGDESK, "--home", str(home), "index", str(folder), "--collection", collection, "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def _library_names(window) -> list[str]:
    return window.library.model.collection_names()


def _box_names(window) -> list[str]:
    box = window.mode_bar.collection_box
    return [box.itemData(i) for i in range(box.count())]


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_a_collection_indexed_in_a_terminal_appears_and_turns_rag_on(make_window, qtbot, tmp_path, tiny_model,
                                                                     ragdesk_home):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "tea.txt").write_text("Green tea steeps at 80 degrees for two minutes.")
    window = make_window()
    c = window.controller
    c.load_model(str(tiny_model.gguf_path))
    qtbot.waitUntil(lambda: c.model_state == "ready" and c.availability is not None, timeout=WAIT_MS)
    assert c.unavailable_reason("rag") and c.mode == "closed"  # nothing indexed: "Model only"
    assert window.mode_bar.choose_mode("closed")  # the only choice the user had
    assert _library_names(window) == []

    _terminal_index(ragdesk_home, tmp_path / "notes", "X")

    qtbot.waitUntil(lambda: _library_names(window) == ["X"], timeout=WAIT_MS)  # no restart, no click
    qtbot.waitUntil(lambda: _box_names(window) == ["X"] and c.collection == "X", timeout=WAIT_MS)
    assert window.mode_bar.collection_box.currentData() == "X"
    # "Model only" was chosen for want of documents: with a collection, RAG is back.
    qtbot.waitUntil(lambda: c.mode == "rag" and window.mode_bar.buttons["rag"].isChecked(), timeout=WAIT_MS)

    # A second terminal run into the same collection: the Library's counts follow.
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "coffee.txt").write_text("Espresso is brewed at nine bars of pressure.")
    _terminal_index(ragdesk_home, tmp_path / "more", "X")
    qtbot.waitUntil(lambda: [i.documents for i in c.collections()] == [2], timeout=WAIT_MS)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_an_explicit_model_only_choice_is_kept_when_documents_change(make_window, qtbot, tmp_path, tiny_model,
                                                                     ragdesk_home):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "tea.txt").write_text("Green tea steeps at 80 degrees for two minutes.")
    _terminal_index(ragdesk_home, tmp_path / "notes", "X")
    window = make_window()
    c = window.controller
    c.load_model(str(tiny_model.gguf_path))
    qtbot.waitUntil(lambda: c.model_state == "ready" and c.unavailable_reason("rag") is None, timeout=WAIT_MS)
    window.mode_bar.choose_mode("closed")  # chosen while RAG could run: the user means it
    (tmp_path / "notes" / "coffee.txt").write_text("Espresso is brewed at nine bars of pressure.")
    _terminal_index(ragdesk_home, tmp_path / "notes", "X")
    qtbot.waitUntil(lambda: [i.documents for i in c.collections()] == [2], timeout=WAIT_MS)
    assert c.mode == "closed" and c.remembered_mode == "closed"


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_the_app_starts_on_a_collection_that_exists(make_window, qtbot, tmp_path, ragdesk_home):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "tea.txt").write_text("Green tea steeps at 80 degrees for two minutes.")
    _terminal_index(ragdesk_home, tmp_path / "notes", "X")  # only X exists; the default is "default"
    window = make_window()
    qtbot.waitUntil(lambda: window.controller.collection == "X", timeout=WAIT_MS)
    assert window.mode_bar.collection_box.currentData() == "X" and _box_names(window) == ["X"]
    # what the modes say follows: no longer "the collection 'default' is empty"
    qtbot.waitUntil(lambda: "'default'" not in (window.controller.unavailable_reason("rag") or ""), timeout=WAIT_MS)
    window.close()

    # The last used collection wins when it still exists.
    _terminal_index(ragdesk_home, tmp_path / "notes", "A-first")
    again = make_window()
    qtbot.waitUntil(lambda: again.controller.collection_infos is not None, timeout=WAIT_MS)
    assert again.controller.collection == "X" and again.mode_bar.collection_box.currentData() == "X"
    assert Settings.load().default_collection == "default"  # the CLI's default is not changed by the window


@pytest.mark.slow  # two windows, a second's wait: CI's slow pass runs it
def test_the_last_used_collection_survives_a_slow_model_worker(make_window, qtbot, tmp_path, ragdesk_home,
                                                               monkeypatch):
    # The window's last used collection reached the chat session only after the session had
    # reported the settings' default; a collection read landing in between moved the window
    # to the first collection. Slowing the session's collection change made that happen every time.
    import time

    from ragdesk.ui.chat.engine_worker import ModelWorker

    original = ModelWorker.set_collection

    def slow_set_collection(self, name):
        time.sleep(1.0)
        original(self, name)

    monkeypatch.setattr(ModelWorker, "set_collection", slow_set_collection)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "tea.txt").write_text("Green tea steeps at 80 degrees for two minutes.")
    _terminal_index(ragdesk_home, tmp_path / "notes", "X")
    window = make_window()
    qtbot.waitUntil(lambda: window.controller.collection == "X", timeout=WAIT_MS)
    window.close()
    _terminal_index(ragdesk_home, tmp_path / "notes", "A-first")
    again = make_window()
    qtbot.waitUntil(lambda: again.controller.collection_infos is not None, timeout=WAIT_MS)
    qtbot.wait(1500)  # longer than the slowed change: any late correction has landed
    assert again.controller.collection == "X" and again.mode_bar.collection_box.currentData() == "X"
