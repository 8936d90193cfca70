"""The Compare page: three modes stream into three columns; Stop; evaluation runs with a report.

Real workers, a real SQLite library and real llama.cpp on the tiny GGUF model
and its random adapter (the tiny model writes gibberish: the tests check
structure, streaming, the recorded mode, stats, progress and the report).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from support.threads import threads_for_tests
from test_eval_runner import make_folder
from test_ui_chat import click_citation, pick, register_tiny
from ui_screenshots import WAIT_MS, make_window, save_screenshot, urls_opened_by_click, wait_job, window_on_sample_docs  # noqa: F401 - make_window is a fixture

from ragdesk.ui.compare.compare_worker import ComparisonWork
from ragdesk.ui.qt import Qt

QUESTION = "When was the harbour of Velmora rebuilt?"
QA = [
    {"question": "Was the Zephyr turbine installed in Norway?", "answer": "in Norway in 2019", "label": "yes",
     "gold_doc": "zephyr"},
    {"question": "Is sourdough baked at 100 degrees?", "label": "no", "gold_doc": "sourdough"},
    {"question": "What does photosynthesis produce?", "answer": "glucose and oxygen", "gold_doc": "photosynthesis"},
    {"question": "When was the harbour of Velmora rebuilt?", "answer": "1887", "gold_doc": "harbour"},
]


@pytest.fixture
def window(make_window, qtbot, tiny_model, tiny_lora, tmp_path):
    """A window on the Compare page: the tiny model loaded, four short documents indexed, no adapter yet."""
    window = make_window(max_tokens=16)
    window.resize(1500, 860)
    register_tiny(window, qtbot, tiny_model, tiny_lora)
    pick(window.mode_bar.model_box, "tiny")
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=WAIT_MS)
    wait_job(qtbot, window, window.controller.index_paths([make_folder(tmp_path / "docs")]))
    qtbot.waitUntil(lambda: window.controller.unavailable_reason("rag") is None, timeout=WAIT_MS)
    window.show_compare()
    assert window.tabs.currentWidget() is window.compare
    return window


def choose_adapter(window, qtbot) -> None:
    pick(window.mode_bar.adapter_box, "tiny-lora")
    checks = window.compare.checks
    qtbot.waitUntil(lambda: checks["lora"].isEnabled() and checks["hybrid"].isEnabled(), timeout=WAIT_MS)


def type_question(qtbot, view, text: str) -> None:
    view.input.clear()
    qtbot.keyClicks(view.input, text)


def test_modes_without_an_adapter_are_disabled_with_the_reason(window, qtbot):
    view, c = window.compare, window.controller
    for mode in ("lora", "hybrid"):
        assert not view.checks[mode].isEnabled() and "adapter" in view.checks[mode].toolTip()
        column = view.columns[mode]
        assert column.state == "unavailable" and column.isVisible()
        assert "choose a LoRA adapter first" in column.body.toPlainText()
    assert view.checks["rag"].isEnabled() and view.columns["rag"].state == "idle"
    assert not view.columns["closed"].isVisible()  # the baseline column is optional

    type_question(qtbot, view, QUESTION)
    with qtbot.waitSignal(c.comparisons.compareFinished, timeout=WAIT_MS) as finished:
        qtbot.keyClick(view.input, Qt.Key.Key_Return)
    result = finished.args[1]
    assert list(result.answers) == ["rag"]  # only the mode that can run was asked
    assert view.columns["rag"].state == "done" and view.columns["rag"].entry.mode == "rag"
    for mode in ("lora", "hybrid"):
        assert view.columns[mode].state == "unavailable" and "adapter" in view.columns[mode].body.toPlainText()

    # Choosing an adapter enables them; the baseline column appears when ticked.
    choose_adapter(window, qtbot)
    assert view.columns["lora"].state == "idle" and "adapter" not in view.columns["lora"].body.toPlainText()
    assert view.columns["rag"].state == "done"  # the last answer stays until the next comparison
    view.checks["closed"].setChecked(True)
    assert view.columns["closed"].isVisible()


def test_compare_streams_each_mode_into_its_column(window, qtbot):
    view, c = window.compare, window.controller
    choose_adapter(window, qtbot)
    started: list[str] = []
    seen_states: list[dict[str, str]] = []
    streamed: dict[str, str] = {}

    def on_started(_rid, mode):
        started.append(mode)
        seen_states.append({m: col.state for m, col in view.columns.items() if m != "closed"})

    def on_tokens(_rid, mode, text):
        streamed[mode] = streamed.get(mode, "") + text

    c.comparisons.compareStarted.connect(on_started)
    c.comparisons.compareTokens.connect(on_tokens)
    type_question(qtbot, view, QUESTION)
    with qtbot.waitSignal(c.comparisons.compareFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    result = finished.args[1]

    # One mode after another on the one engine; the column being written is the marked one.
    assert started == ["rag", "lora", "hybrid"]
    assert seen_states[0] == {"rag": "generating", "lora": "waiting", "hybrid": "waiting"}
    assert seen_states[2] == {"rag": "done", "lora": "done", "hybrid": "generating"}
    assert c.model_worker.session.engine.load_count == 1
    for mode in ("rag", "lora", "hybrid"):
        column, answer = view.columns[mode], result.answers[mode]
        assert streamed.get(mode), f"nothing streamed into {mode}"
        assert column.state == "done" and column.badge.text() == "Done"
        assert column.entry.mode == answer.mode == mode  # the mode is recorded with each answer
        assert column.entry.text == answer.text and column.body.toPlainText().strip()
        stats = column.stats.text()
        assert "tokens/s" in stats and f"{answer.stats['completion_tokens']} token" in stats
        assert f"{(answer.stats['retrieval_ms'] + answer.stats['total_ms']) / 1000:.2f} s" in stats
    assert result.answers["rag"].adapter is None
    assert result.answers["lora"].adapter == result.answers["hybrid"].adapter == "tiny-lora"
    assert "no retrieval" in view.columns["lora"].stats.text()
    assert view.columns["rag"].entry.sources[0].hit.path.endswith("harbour.txt")
    assert c.conversations.list() == []  # comparisons are not saved as conversations
    # The sources panel shows the first answer's chunks; clicking a column shows that column's.
    assert window.citations.model.rowCount() == len(view.columns["rag"].entry.sources)
    qtbot.mouseClick(view.columns["hybrid"].body.viewport(), Qt.MouseButton.LeftButton)
    assert window.citations._entry is view.columns["hybrid"].entry

    # A [n] marker in a column opens that chunk in the sources panel (the tiny model cites nothing
    # itself, so the RAG column is given its answer with a marker, as a stored answer would be).
    rag = view.columns["rag"]
    entry = rag.entry
    entry.text = "The old harbour was rebuilt in **1887** [1].\n\nA storm had destroyed the piers."
    rag.finish(entry)
    click_citation(qtbot, rag, 1)
    current = window.citations.current
    assert current.n == 1 and current.hit.path.endswith("harbour.txt")
    assert window.citations.highlighted_passage() == c.store.document_text(current.hit.document_id)[
        current.hit.start : current.hit.end]
    assert view.compare_button.isVisible() and not view.stop_button.isVisible()
    assert window.chat.input.isEnabled()  # the chat may ask again


def hold_after_first_call(monkeypatch, method: str) -> None:
    """Make the first call of ``ComparisonWork.<method>`` wait until its request is cancelled.

    Tiny models finish in milliseconds; this keeps a run open until the test presses Stop or Cancel.
    """
    held = threading.Event()
    original = getattr(ComparisonWork, method)

    def holding(self, request, *args):
        original(self, request, *args)
        if not held.is_set():
            held.set()
            request.cancel.wait(10)

    monkeypatch.setattr(ComparisonWork, method, holding)


def test_stop_cancels_the_comparison(window, qtbot, monkeypatch):
    view, c = window.compare, window.controller
    choose_adapter(window, qtbot)
    hold_after_first_call(monkeypatch, "_compare_piece")  # the stream stays open until Stop
    type_question(qtbot, view, QUESTION)
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    rag = view.columns["rag"]
    qtbot.waitUntil(lambda: rag.state == "generating" and rag.body.toPlainText().strip() not in ("", "…"),
                    timeout=WAIT_MS)
    assert rag.badge.text() == "● Generating…" and view.columns["lora"].badge.text() == "Waiting"
    assert view.stop_button.isVisible() and not view.compare_button.isVisible()
    save_screenshot(window, "compare-generating")
    assert not window.chat.input.isEnabled()  # one thing at a time on the model
    assert c.ask("Meanwhile?") is None

    with qtbot.waitSignal(c.comparisons.compareFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(view.stop_button, Qt.MouseButton.LeftButton)
    result = finished.args[1]
    assert result.cancelled and list(result.answers) == ["rag"]
    assert result.answers["rag"].stats["stop_reason"] == "cancelled"
    assert rag.state == "stopped" and "stopped" in rag.stats.text()
    for mode in ("lora", "hybrid"):
        assert view.columns[mode].state == "not_run" and "stopped" in view.columns[mode].body.toPlainText()
    assert view.compare_button.isVisible() and window.chat.input.isEnabled()


def write_qa(path: Path, rows=QA) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_evaluation_runs_with_progress_and_shows_the_report(window, qtbot, tmp_path, ragdesk_home):
    view, c = window.compare, window.controller
    panel = view.eval_panel
    choose_adapter(window, qtbot)
    view.tabs.setCurrentWidget(panel)
    assert not panel.run_button.isEnabled() and not panel.open_button.isEnabled()  # no file, no report yet
    panel.path.setText(str(write_qa(tmp_path / "qa.jsonl")))
    panel.max_tokens.setValue(12)
    steps: list[tuple] = []
    c.comparisons.evalProgress.connect(lambda _rid, done, total, mode: steps.append((done, total, mode)))
    with qtbot.waitSignal(c.comparisons.evalFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    outcome = finished.args[1]

    # The closed-book baseline first, then each ticked mode: 4 questions x 4 modes, one step per answer.
    assert not outcome.cancelled and outcome.answered == outcome.total == 16
    assert steps[0] == (0, 16, "") and steps[-1] == (16, 16, "report")
    assert [s[2] for s in steps[1:-1]] == ["closed"] * 4 + ["rag"] * 4 + ["lora"] * 4 + ["hybrid"] * 4
    assert [s[0] for s in steps[1:-1]] == list(range(1, 17))
    assert panel.progress.value() == panel.progress.maximum() == 16
    assert panel.status.text().startswith("Done: 16 answers")
    assert c.model_worker.session.engine.load_count == 1

    # The report and its data are in the data folder, under reports/<timestamp>/.
    report = outcome.report
    assert report.name == "report.html" and report.parent.parent == ragdesk_home / "reports"
    results = json.loads((report.parent / "results.json").read_text(encoding="utf-8"))
    assert results["n"] == 4 and list(results["modes"]) == ["closed", "rag", "lora", "hybrid"]
    assert results["adapter"] == "tiny-lora" and results["model"] == "tiny"
    assert results["modes"]["rag"]["hit_at_k"] is not None and results["modes"]["lora"]["hit_at_k"] is None

    # Shown in the panel: the tables as text, the charts as images laid out at their size.
    shown = panel.report.toPlainText()
    assert "ragdesk evaluation" in shown and "Label accuracy" in shown and "Retrieval hit@k" in shown
    assert "Questions where the modes disagree" in shown
    assert panel.report.document().size().height() > 1000  # two charts of several hundred pixels each
    # The charts shrink to the view's width: nothing to scroll sideways.
    widths = [int(w) for w in re.findall(r'<img[^>]*?width="(\d+)"', panel.report.toHtml())]
    assert len(widths) == 2 and all(w <= panel.report.viewport().width() for w in widths)
    qtbot.waitUntil(lambda: panel.report.horizontalScrollBar().maximum() == 0, timeout=5000)
    assert str(report) in panel.report_label.toolTip()

    assert [u.toLocalFile() for u in urls_opened_by_click(qtbot, panel.open_button)] == [str(report)]
    window.resize(1500, 1400)  # tall enough to show the tables and the first chart
    qtbot.waitUntil(lambda: panel.report.viewport().height() > 900, timeout=5000)
    save_screenshot(window, "eval-report")


@pytest.mark.slow
def test_real_default_model_compares_on_the_sample_documents(make_window, qtbot):
    """The built-in SmolLM2 on the bundled sample documents: RAG beside the closed-book baseline."""
    window = window_on_sample_docs(make_window, qtbot, max_tokens=48, n_ctx=2048, n_threads=threads_for_tests(2))
    window.resize(1500, 860)
    c = window.controller
    window.show_compare()
    view = window.compare
    view.checks["closed"].setChecked(True)
    type_question(qtbot, view, "How long do I have to return a product?")
    with qtbot.waitSignal(c.comparisons.compareFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    result = finished.args[1]
    assert list(result.answers) == ["rag", "closed"]  # merged-LoRA and hybrid need an adapter
    assert any(s.hit.path.endswith("returns-policy.html") for s in view.columns["rag"].entry.sources)
    assert view.columns["closed"].entry.sources == [] and view.columns["lora"].state == "unavailable"
    save_screenshot(window, "compare")


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_cancel_an_evaluation_and_a_bad_qa_file(window, qtbot, tmp_path, monkeypatch):
    view, c = window.compare, window.controller
    panel = view.eval_panel
    view.tabs.setCurrentWidget(panel)

    # A broken file: one clear sentence in a dialog, and the panel is ready again.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(QA[0]) + "\n{not json\n", encoding="utf-8")
    panel.path.setText(str(bad))
    with qtbot.waitSignal(c.comparisons.evalFailed, timeout=WAIT_MS):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_error is not None and window.last_error.isVisible(), timeout=WAIT_MS)
    assert window.last_error.windowTitle() == "Evaluation failed"
    assert window.last_error.text() == "Line 2 of bad.jsonl is not valid JSON."
    window.last_error.close()
    assert panel.run_button.isVisible() and panel.run_button.isEnabled()

    hold_after_first_call(monkeypatch, "_eval_answered")  # the run stays open until Cancel
    panel.path.setText(str(write_qa(tmp_path / "qa.jsonl")))
    panel.max_tokens.setValue(12)
    panel.limit.setValue(3)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress.value() == 1, timeout=WAIT_MS)
    assert panel.progress.maximum() == 6  # 3 questions in rag (no adapter) and the baseline
    assert "closed-book" in panel.status.text()
    assert panel.cancel_button.isVisible() and not panel.run_button.isVisible()
    assert not view.compare_button.isEnabled() and not window.chat.input.isEnabled()

    with qtbot.waitSignal(c.comparisons.evalFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    outcome = finished.args[1]
    assert outcome.cancelled and outcome.answered == 1 and outcome.total == 6
    assert panel.status.text() == "Cancelled after 1 of 6 answers: the report covers them."
    assert "cancelled" in panel.report.toPlainText()  # the partial report says so
    assert panel.run_button.isVisible() and window.chat.input.isEnabled()
