"""Train adapter dialog: real training of the tiny model from a real collection, in the real window.

The window runs on its real workers with the tiny GGUF model loaded; the
dialog trains on that model (dequantized by transformers) from a real
knowledge store, converts the adapter and registers it. To look at (and cancel)
a run mid-way, a test holds the worker at one step: its progress report is
wrapped to wait there until the test lets it go or the run is cancelled.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from test_training import indexed_db  # noqa: F401 - fixture: collections "facts" (one document) and "empty"
from ui_screenshots import WAIT_MS, make_window, save_screenshot  # noqa: F401 - fixture

from ragdesk import db, paths
from ragdesk.llm.registry import ModelNotFound, ModelRegistry
from ragdesk.ui.training.train_dialog import TrainDialog
from ragdesk.ui.training.train_form import TrainForm, name_problem
from ragdesk.ui.training.train_worker import TrainWorker

STEPS = 12


def _registry() -> ModelRegistry:
    return ModelRegistry(db.connect(paths.db_path()))


@pytest.fixture
def window(make_window, qtbot, indexed_db, ragdesk_home, tiny_model):
    """The window on a copy of the library, the tiny model registered as ``tiny`` and loaded."""
    ragdesk_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(indexed_db, paths.db_path())
    registry = _registry()
    registry.add(tiny_model.gguf_path, name="tiny")
    registry.conn.close()
    made = make_window(model="tiny", default_collection="facts")
    qtbot.waitUntil(lambda: made.controller.model_state == "ready", timeout=WAIT_MS)
    return made


class Hold:
    """Where the worker waits: at training step ``step`` until ``release`` is set or the run is cancelled."""

    def __init__(self) -> None:
        self.step: int | None = None
        self.reached = threading.Event()
        self.release = threading.Event()


@pytest.fixture
def hold(monkeypatch):
    gate = Hold()
    report = TrainWorker._report

    def held(self, task, p):
        report(self, task, p)
        if p.phase == "train" and p.step == gate.step:
            gate.reached.set()
            deadline = time.monotonic() + 60
            while not (task.cancel.is_set() or gate.release.is_set()) and time.monotonic() < deadline:
                time.sleep(0.005)

    monkeypatch.setattr(TrainWorker, "_report", held)
    monkeypatch.setattr(TrainWorker, "PROGRESS_INTERVAL_S", 0.0)  # every step reaches the dialog
    return gate


def open_dialog(qtbot, window, steps: int = STEPS) -> TrainDialog:
    dialog = window.open_train_dialog()
    assert isinstance(dialog, TrainDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.survey is not None and dialog.start_button.isEnabled(), timeout=WAIT_MS)
    dialog.form.steps_radio.setChecked(True)
    dialog.form.steps.setValue(steps)
    return dialog


def checkpoint_step(name: str) -> int:
    return json.loads((paths.training_dir() / name / "checkpoint" / "state.json").read_text())["step"]


def registered(name: str) -> bool:
    registry = _registry()
    try:
        return registry.get(name).kind == "adapter"
    except ModelNotFound:
        return False
    finally:
        registry.conn.close()


def test_a_run_shows_progress_then_the_result_and_the_adapter_is_offered_and_used(window, qtbot, hold):
    dialog = open_dialog(qtbot, window)
    form = dialog.form
    # Defaults: the current collection, the model in use, a name made from the collection.
    assert (form.collection(), form.base_choice("tiny"), form.name()) == ("facts", ("tiny", None), "facts-lora")
    assert form.method() == "continued" and form.rank.value() == 8
    values: list[int] = []
    dialog.progress.valueChanged.connect(values.append)

    hold.step = 4
    task = dialog.start()
    assert task is not None and task.request.options == {"rank": 8, "max_steps": STEPS}
    qtbot.waitUntil(hold.reached.is_set, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.progress.value() == 4, timeout=WAIT_MS)
    assert dialog.phase_label.text() == f"Training: step 4 of {STEPS}"
    assert dialog.progress.maximum() == STEPS and dialog.progress.text() == f"4 / {STEPS} steps"
    assert re.fullmatch(r"loss \d+\.\d{4} · [\d,]+ tokens/s · \d:\d\d elapsed · about \d:\d\d left",
                        dialog.stats_label.text()), dialog.stats_label.text()
    assert not dialog.form.isEnabled() and not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    save_screenshot(dialog, "train-dialog")

    with qtbot.waitSignal(dialog.runEnded, timeout=WAIT_MS) as ended:
        hold.release.set()
    assert ended.args == [task, "completed"], dialog.message.text()
    assert [v for v in values if v > 0][:STEPS] == list(range(1, STEPS + 1))
    result = dialog.result
    assert result.training.step == result.training.total_steps == STEPS
    assert Path(result.adapter_path) == paths.adapters_dir() / "facts-lora.gguf" and Path(result.adapter_path).is_file()
    assert registered("facts-lora")
    shown = dialog.result_label.text()
    for fact in ("Final loss", "Training-text loss", "tokens/s", f"{STEPS} steps", "facts-lora.gguf for tiny, in "):
        assert fact in shown, shown
    assert "Held-out" not in shown  # continued training has no held-out questions
    assert dialog.phase_label.text() == "Done: 'facts-lora' is trained and registered for tiny."
    assert dialog.result_panel.isVisible() and dialog.use_button.isEnabled() and dialog.form.isEnabled()

    # The main window's pickers were refreshed: the adapter is offered for the model in use.
    picker = window.mode_bar.adapter_box
    qtbot.waitUntil(lambda: picker.findData("facts-lora") >= 0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.form.name() == "facts-lora-2", timeout=WAIT_MS)  # the name is taken now
    save_screenshot(dialog, "train-dialog-done")
    dialog.use_button.click()
    assert window.controller.adapter == "facts-lora" and picker.currentData() == "facts-lora"
    qtbot.waitUntil(lambda: window.controller.unavailable_reason("lora") is None, timeout=WAIT_MS)
    assert "now the adapter" in dialog.message.text()
    dialog.reject()
    assert dialog.shutdown(10_000)


def test_cancel_keeps_a_checkpoint_and_resume_completes_the_same_run(window, qtbot, hold):
    dialog = open_dialog(qtbot, window)
    hold.step = 5
    first = dialog.start()
    qtbot.waitUntil(hold.reached.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(dialog.runEnded, timeout=WAIT_MS) as ended:
        dialog.cancel_button.click()
        assert first.cancel.is_set() and not dialog.cancel_button.isEnabled()
        assert dialog.phase_label.text() == "Stopping after this step and saving a checkpoint…"
    assert ended.args == [first, "cancelled"]
    assert dialog.phase_label.text() == f"Stopped at step 5 of {STEPS}; the checkpoint is saved."
    assert dialog.progress.value() == 5 and not dialog.message.isVisible()
    assert checkpoint_step("facts-lora") == 5 and not registered("facts-lora")

    # The stopped run is offered under its name; a new run with that name is not.
    qtbot.waitUntil(dialog.resume_panel.isVisible, timeout=WAIT_MS)
    assert dialog.form.name() == "facts-lora" and dialog.resume_button.text() == "Resume from step 5"
    assert "stopped at step 5 of 12 (collection 'facts', continued, rank 8, on tiny)" in dialog.resume_label.text()
    assert not dialog.start_button.isEnabled() and "resume it below" in dialog.form.name_hint.text()
    save_screenshot(dialog, "train-dialog-resume")

    hold.step = None
    values: list[int] = []
    dialog.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.runEnded, timeout=WAIT_MS) as ended:
        dialog.resume_button.click()
        assert not dialog.resume_panel.isVisible()
    assert ended.args[1] == "completed", dialog.message.text()
    second = ended.args[0]
    assert second.request.resume and second.request.name == "facts-lora"
    t = dialog.result.training
    assert (t.step, t.total_steps, len(t.losses)) == (STEPS, STEPS, STEPS)
    assert [v for v in values if v > 0][0] == 6  # it went on from the checkpoint
    assert registered("facts-lora") and Path(dialog.result.adapter_path).is_file()
    qtbot.waitUntil(lambda: not dialog.resume_panel.isVisible() and dialog.form.name() == "facts-lora-2",
                    timeout=WAIT_MS)
    assert dialog.shutdown(10_000)


def test_an_empty_collection_is_a_one_line_message_in_the_dialog(window, qtbot):
    dialog = open_dialog(qtbot, window)
    form = dialog.form
    form.collection_box.setCurrentIndex(form.collection_box.findData("empty"))
    assert form.collection_box.currentText() == "empty  (empty)" and form.name() == "empty-lora"
    with qtbot.waitSignal(dialog.runEnded, timeout=WAIT_MS) as ended:
        dialog.start_button.click()
    assert ended.args[1] == "failed"
    assert dialog.message.text() == "The collection 'empty' has no text to train on; index some documents first."
    assert dialog.message.isVisible() and dialog.message.property("error")
    assert not dialog.progress_panel.isVisible() and dialog.form.isEnabled() and dialog.start_button.isEnabled()
    assert not (paths.training_dir() / "empty-lora").exists()
    save_screenshot(dialog, "train-dialog-error")
    assert dialog.shutdown(10_000)


def test_closing_the_dialog_during_a_run_stops_it_and_reopening_offers_resume(window, qtbot, hold):
    dialog = open_dialog(qtbot, window, steps=200)
    hold.step = 3
    task = dialog.start()
    qtbot.waitUntil(hold.reached.is_set, timeout=WAIT_MS)
    thread = dialog._thread
    dialog.close_button.click()
    assert task.cancel.is_set() and not dialog.isVisible()
    qtbot.waitUntil(thread.isFinished, timeout=WAIT_MS)
    status = window.statusBar()
    qtbot.waitUntil(lambda: "stopped at step 3 of 200" in status.currentMessage(), timeout=WAIT_MS)
    assert checkpoint_step("facts-lora") == 3 and not registered("facts-lora")

    assert window.open_train_dialog() is dialog and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.resume_panel.isVisible() and dialog.resume_button.isEnabled(), timeout=WAIT_MS)
    assert dialog.resume_button.text() == "Resume from step 3" and not dialog.running
    assert dialog.shutdown(10_000)


def test_closing_the_window_during_a_run_stops_the_worker(window, qtbot, hold):
    dialog = open_dialog(qtbot, window, steps=200)
    hold.step = 3
    task = dialog.start()
    qtbot.waitUntil(hold.reached.is_set, timeout=WAIT_MS)
    thread = dialog._thread
    window.close()  # waits for the worker: cancelled, checkpointed, thread ended
    assert task.cancel.is_set() and thread.isFinished()
    assert checkpoint_step("facts-lora") == 3 and not registered("facts-lora")


def test_the_form_maps_choices_to_a_request(qtbot, tiny_model):
    form = TrainForm()
    qtbot.addWidget(form)
    form.show_collections([], "notes")
    form.show_models([], "tiny")  # nothing registered: the model in use, by name
    assert form.collection_box.currentText() == "notes  (empty)"
    form.method_buttons["both"].setChecked(True)
    form.rank.setValue(16)
    form.epochs.setValue(2)
    form.suggest_name({"notes-lora"})
    request = form.request("tiny")
    assert (request.name, request.collection, request.method) == ("notes-lora-2", "notes", "both")
    assert request.options == {"rank": 16, "epochs": 2} and not request.resume
    form.base_box.setEditText(str(tiny_model.hf_dir))  # a Hugging Face folder: the adapter is for the model in use
    assert form.request("tiny").base == str(tiny_model.hf_dir) and form.request("tiny").model == "tiny"
    form.base_box.setEditText(str(tiny_model.gguf_path))  # a GGUF file is its own target
    assert form.base_choice("tiny") == (str(tiny_model.gguf_path), None)
    form.name_edit.setText("mine")
    form.name_edit.textEdited.emit("mine")
    form.suggest_name(set())
    assert form.name() == "mine"  # a typed name is kept


@pytest.mark.parametrize("name, problem", [
    ("", "Give the adapter a name."),
    ("my notes", "Use only letters"),
    ("../evil", "Use only letters"),
    ("tiny", "A model or adapter named 'tiny' already exists"),
    ("half", "A run with this name exists"),
    ("facts-lora", None),
])
def test_adapter_names_are_checked_as_typed(name, problem):
    said = name_problem(name, {"tiny"}, {"half": object()})
    assert said == problem or (problem and said.startswith(problem))
