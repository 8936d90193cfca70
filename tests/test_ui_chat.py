"""Chat in the window: each mode streams from a tiny real GGUF model; Stop; citations; conversations."""

from __future__ import annotations

import json
import threading

import pytest
from support.threads import threads_for_tests
from ui_screenshots import WAIT_MS, make_window, save_screenshot, urls_opened_by_click, wait_job, window_on_sample_docs  # noqa: F401,F811 - make_window is a fixture

from ragdesk.ui.chat.engine_worker import ModelWorker
from ragdesk.ui.chat.markdown import CITE_SCHEME
from ragdesk.ui.qt import QApplication, QColor, QMessageBox, QPalette, Qt, QTextCursor, QUrl

DOC = (
    "# Sourdough\n\nA sourdough starter needs flour and water, fed every day.\n\n"
    "## Baking\n\nBake the loaf at 230 degrees for forty minutes, with steam at first.\n"
)


def register_tiny(window, qtbot, tiny_model, tiny_lora) -> None:
    """Put the tiny model and its adapter in the registry, as the Models manager would."""
    from ragdesk import db
    from ragdesk.llm.registry import ModelRegistry

    conn = db.connect(window.controller.db_path)
    registry = ModelRegistry(conn)
    registry.add(tiny_model.gguf_path, name="tiny")
    registry.add(tiny_lora, name="tiny-lora", base_model="tiny")
    conn.close()
    window.controller.refresh_models()
    qtbot.waitUntil(lambda: any(m.name == "tiny" for m in window.controller.models), timeout=WAIT_MS)


def pick(box, value) -> None:
    """Choose an item of a combo box the way its popup does."""
    index = box.findData(value)
    assert index >= 0, f"{value!r} not offered"
    box.setCurrentIndex(index)
    box.activated.emit(index)


@pytest.fixture
def chat_window(make_window, qtbot, tiny_model, tiny_lora, tmp_path):
    """A window with the tiny model loaded (picked in the model box) and a one-document library."""
    window = make_window()
    register_tiny(window, qtbot, tiny_model, tiny_lora)
    pick(window.mode_bar.model_box, "tiny")
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=WAIT_MS)
    (tmp_path / "bread.md").write_text(DOC, encoding="utf-8")
    wait_job(qtbot, window, window.controller.index_paths([tmp_path / "bread.md"]))
    qtbot.waitUntil(lambda: window.controller.unavailable_reason("rag") is None, timeout=WAIT_MS)
    return window


def ask(window, qtbot, question: str) -> list[str]:
    """Type a question and press Enter; returns the streamed pieces once the answer is done."""
    pieces: list[str] = []
    window.controller.answerTokens.connect(lambda _rid, text: pieces.append(text))
    chat = window.chat
    qtbot.keyClicks(chat.input, question)
    with qtbot.waitSignal(window.controller.answerFinished, timeout=WAIT_MS):
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    return pieces


def test_each_mode_streams_an_answer_and_records_its_mode(chat_window, qtbot):
    window = chat_window
    c, bar = window.controller, window.mode_bar
    assert not bar.buttons["lora"].isEnabled() and "adapter" in bar.buttons["lora"].toolTip()
    pick(bar.adapter_box, "tiny-lora")
    qtbot.waitUntil(lambda: bar.buttons["lora"].isEnabled() and bar.buttons["hybrid"].isEnabled(), timeout=WAIT_MS)

    for mode in ("rag", "lora", "hybrid"):
        qtbot.mouseClick(bar.buttons[mode], Qt.MouseButton.LeftButton)
        assert c.mode == mode and bar.buttons[mode].isChecked()
        pieces = ask(window, qtbot, f"How is the loaf baked? ({mode})")
        assert pieces, f"nothing was streamed in {mode} mode"
        stored = c.conversations.messages(window.conversation_id)[-1]
        assert stored.role == "assistant" and stored.mode == mode
        assert stored.adapter == ("tiny-lora" if mode != "rag" else None)
        card = window.chat.cards[-1]
        assert card.entry.mode == mode and card.entry.state == "done"
        assert card.entry.text == stored.content
        if mode in ("rag", "hybrid"):
            assert card.entry.sources and card.entry.sources[0].hit.path.endswith("bread.md")

    # One conversation of three exchanges; switching modes never reloaded the model.
    assert len(c.conversations.messages(window.conversation_id)) == 6
    assert c.model_worker.session.engine.load_count == 1
    assert window.chat.input.isEnabled() and window.chat.input.toPlainText() == ""


def test_enter_sends_and_shift_enter_adds_a_line(chat_window, qtbot):
    window = chat_window
    chat = window.chat
    qtbot.keyClicks(chat.input, "first line")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(chat.input, "second line")
    assert chat.input.toPlainText() == "first line\nsecond line"
    assert not window.controller.busy
    with qtbot.waitSignal(window.controller.answerFinished, timeout=WAIT_MS):
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert chat.cards[0].entry.text == "first line\nsecond line"
    assert "first line<br />second line" in chat.cards[0].body.toHtml() or "second line" in chat.cards[0].body.toPlainText()


def test_stop_cancels_generation(chat_window, qtbot, monkeypatch):
    window = chat_window
    held = threading.Event()
    original = ModelWorker._piece

    def hold_after_first_piece(self, request, sink, piece):
        # Tiny models finish in milliseconds: keep the stream open until the user presses Stop.
        original(self, request, sink, piece)
        if not held.is_set():
            held.set()
            request.cancel.wait(10)

    monkeypatch.setattr(ModelWorker, "_piece", hold_after_first_piece)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClicks(window.chat.input, "Tell me everything about bread.")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    chat = window.chat
    qtbot.waitUntil(lambda: chat.streaming_card is not None and bool(chat.streaming_card.entry.text), timeout=WAIT_MS)
    assert chat.stop_button.isVisible() and not chat.send_button.isVisible()
    assert chat.streaming_card.footer.text().startswith("Writing")

    with qtbot.waitSignal(window.controller.answerFinished, timeout=WAIT_MS) as finished:
        qtbot.keyClick(chat.input, Qt.Key.Key_Escape)
    answer = finished.args[1]
    assert answer.stats["stop_reason"] == "cancelled"
    card = chat.cards[-1]
    assert card.entry.state == "stopped" and card.footer.text().startswith("Stopped")
    assert not chat.stop_button.isVisible() and chat.input.isEnabled()
    # The partial answer was kept.
    assert window.controller.conversations.messages(window.conversation_id)[-1].stats["stop_reason"] == "cancelled"

    # The Stop button works the same way.
    held.clear()
    qtbot.keyClicks(chat.input, "And about cake?")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chat.streaming_card is not None and bool(chat.streaming_card.entry.text), timeout=WAIT_MS)
    with qtbot.waitSignal(window.controller.answerFinished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(chat.stop_button, Qt.MouseButton.LeftButton)
    assert finished.args[1].stats["stop_reason"] == "cancelled"


def click_citation(qtbot, card, n: int) -> None:
    """A real mouse click on the ``[n]`` link inside a message card."""
    body = card.body
    qtbot.waitUntil(lambda: body.isVisible() and body.width() > 100 and body.height() > 20, timeout=WAIT_MS)
    QApplication.processEvents()
    found = body.document().find(f"[{n}]")
    assert not found.isNull(), body.toPlainText()
    cursor = QTextCursor(body.document())
    cursor.setPosition(found.selectionStart() + 1)
    pos = body.cursorRect(cursor).center()
    assert body.anchorAt(pos) == f"{CITE_SCHEME}:{n}", (pos, body.size(), body.toPlainText())
    qtbot.mouseClick(body.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def opened_by_open_source(qtbot, panel) -> str:
    """Click "Open source" and return the one URL the desktop was asked to open."""
    urls = urls_opened_by_click(qtbot, panel.open_button)
    assert len(urls) == 1
    return urls[0].toString()


def test_clicking_a_citation_shows_that_chunk_in_context(make_window, qtbot, tmp_path, tiny_model, tiny_lora):
    from support.documents import make_pdf

    window = make_window()
    c = window.controller
    register_tiny(window, qtbot, tiny_model, tiny_lora)
    pick(window.mode_bar.model_box, "tiny")  # so the screenshot shows a ready window
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "report.pdf")
    (docs / "bread.md").write_text(DOC, encoding="utf-8")
    wait_job(qtbot, window, c.index_paths([docs]))
    hits = c.store.search("glacier ice front survey", k=3)
    bread = next(h for h in c.store.search("sourdough starter flour water", k=3) if h.path.endswith("bread.md"))
    glacier = hits[0]
    assert glacier.path.endswith("report.pdf") and glacier.page

    # A stored answer that cites two chunks, opened from the conversations list.
    cid = c.conversations.create("Glaciers and bread").id
    c.conversations.add_message(cid, "user", "What did the survey measure, and what does a starter need?", mode="rag")
    c.conversations.add_message(
        cid, "assistant",
        "The survey measured the **ice front** [1]. A starter needs:\n\n- flour and water [2]\n- daily feeding\n\n"
        "```\nfeed(starter, flour=50, water=50)\n```",
        mode="rag", model="tiny", collection="default",
        retrieved=[glacier, bread], cited=[(1, glacier), (2, bread)],
        stats={"completion_tokens": 41, "tokens_per_s": 38.5, "total_ms": 1210.0, "retrieval_ms": 35.0},
    )
    c.conversationsChanged.emit()
    qtbot.waitUntil(lambda: window.conversations.model.rowCount() == 1, timeout=WAIT_MS)
    view = window.conversations.view
    index = window.conversations.model.index(0, 0)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    assert window.conversation_id == cid and len(window.chat.cards) == 2
    qtbot.waitUntil(lambda: c.model_state == "ready", timeout=WAIT_MS)
    card = window.chat.cards[1]
    panel = window.citations

    click_citation(qtbot, card, 2)
    assert panel.current.n == 2 and panel.current.hit.chunk_id == bread.chunk_id
    text = c.store.document_text(bread.document_id)
    assert panel.highlighted_passage() == text[bread.start : bread.end]

    click_citation(qtbot, card, 1)
    ref = panel.current
    assert ref.n == 1 and ref.cited and ref.hit.chunk_id == glacier.chunk_id
    assert f"page {glacier.page}" in panel.where.text() and "report.pdf" in panel.where.text()
    text = c.store.document_text(glacier.document_id)
    assert panel.highlighted_passage() == text[glacier.start : glacier.end]
    assert panel.model.rowCount() == 2 and "2 cited" in panel.title.text()
    assert opened_by_open_source(qtbot, panel) == QUrl.fromLocalFile(glacier.path).toString() + f"#page={glacier.page}"
    click_citation(qtbot, card, 2)
    assert opened_by_open_source(qtbot, panel) == QUrl.fromLocalFile(bread.path).toString()  # no page outside PDFs
    click_citation(qtbot, card, 1)
    save_screenshot(window, "answer-with-citations")

    # Dark system palette: the same view stays readable (colours come from the palette).
    app = QApplication.instance()
    light = app.palette()
    dark = QPalette(light)
    for role, color in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.Base, "#1e1e1e"),
                        (QPalette.ColorRole.AlternateBase, "#2a2a2a"), (QPalette.ColorRole.Text, "#e6e6e6"),
                        (QPalette.ColorRole.WindowText, "#e6e6e6"), (QPalette.ColorRole.Button, "#353535"),
                        (QPalette.ColorRole.ButtonText, "#e6e6e6"), (QPalette.ColorRole.Highlight, "#3d7be0"),
                        (QPalette.ColorRole.Link, "#7eb6ff"), (QPalette.ColorRole.PlaceholderText, "#8a8a8a")):
        dark.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        dark.setColor(QPalette.ColorGroup.Disabled, role, QColor("#777777"))
    try:
        app.setPalette(dark)
        card_background = lambda: QColor(card.styleSheet().split("background-color: ")[1][:7])  # noqa: E731
        qtbot.waitUntil(lambda: card_background().lightness() < 80, timeout=5000)
        save_screenshot(window, "answer-with-citations-dark")
    finally:
        app.setPalette(light)


def test_conversations_rename_export_delete(chat_window, qtbot, tmp_path):
    window = chat_window
    ask(window, qtbot, "What does a starter need?")
    cid = window.conversation_id
    panel = window.conversations
    model = panel.model
    row = model.row_of(cid)
    assert model.setData(model.index(row, 0), "Bread notes")
    qtbot.waitUntil(lambda: model.index(model.row_of(cid), 0).data() == "Bread notes", timeout=WAIT_MS)

    md, js = tmp_path / "chat.md", tmp_path / "chat.json"
    assert window.controller.export_conversation(cid, md)
    assert window.controller.export_conversation(cid, js)
    assert md.read_text().startswith("# Bread notes") and "What does a starter need?" in md.read_text()
    data = json.loads(js.read_text())
    assert data["title"] == "Bread notes" and [m["role"] for m in data["messages"]] == ["user", "assistant"]

    box = panel.ask_delete(cid)
    assert box.isVisible()
    next(b for b in box.buttons() if b.text() == "Delete").click()
    qtbot.waitUntil(lambda: model.rowCount() == 0, timeout=WAIT_MS)
    assert window.conversation_id is None and window.chat.cards == []  # it was open: a new chat took its place


def test_corrupt_model_file_shows_an_error_and_the_app_keeps_running(chat_window, qtbot, tmp_path):
    window = chat_window
    bad = tmp_path / "x.gguf"
    bad.write_text("this is not a model, just text with a .gguf name\n")
    window.controller.load_model(str(bad))
    qtbot.waitUntil(lambda: window.last_error is not None and window.last_error.isVisible(), timeout=WAIT_MS)
    box = window.last_error
    assert box.windowTitle() == "Could not load the model"
    assert "x.gguf" in box.text() and box.text().endswith(".") and "Traceback" not in box.text()
    from ragdesk.logging_setup import log_file

    assert str(log_file()) in box.informativeText()
    save_screenshot(box, "error-corrupt-model")
    box.button(QMessageBox.StandardButton.Ok).click()
    # The header check refused the file before llama.cpp saw it: the tiny model is still loaded.
    assert window.controller.model_state == "ready" and window.controller.model_name == "tiny"
    pieces = ask(window, qtbot, "Still there?")
    assert pieces


def test_streamed_pieces_are_coalesced(qtbot, monkeypatch):
    """The worker sends at most one signal per interval; the view repaints at most once per flush."""
    from ragdesk.ui.chat.chat_view import ChatView
    from ragdesk.ui.workers import threads as workers

    clock = [100.0]
    monkeypatch.setattr(workers.time, "monotonic", lambda: clock[0])
    sent: list[str] = []
    sink = workers.TokenSink(sent.append, 0.03)
    for i, step in enumerate([0.0, 0.01, 0.01, 0.005, 0.02, 0.001]):
        clock[0] += step
        sink.add(f"t{i} ")
    sink.flush()
    # the first piece at once; the next three within 30 ms of it wait; the rest go at the end
    assert sent == ["t0 ", "t1 t2 t3 t4 ", "t5 "]

    view = ChatView()
    qtbot.addWidget(view)
    card = view.begin_answer(1, "Q?", "closed")
    renders = []
    monkeypatch.setattr(card, "set_text", lambda text: renders.append(text))
    for i in range(200):
        view.append_tokens(1, f"w{i} ")
    view.append_tokens(2, "from another request ")  # ignored
    qtbot.waitUntil(lambda: bool(renders), timeout=2000)
    assert renders == ["".join(f"w{i} " for i in range(200))]


@pytest.mark.slow
def test_real_default_model_answers_from_the_sample_documents(make_window, qtbot):
    """End to end with the built-in SmolLM2 and the bundled sample documents (the app's own demo data)."""
    window = window_on_sample_docs(make_window, qtbot, max_tokens=64, n_ctx=2048, n_threads=threads_for_tests(2))
    pieces = ask(window, qtbot, "How long do I have to return a product?")
    assert pieces
    card = window.chat.cards[-1]
    assert card.entry.mode == "rag" and card.entry.model == "smollm2-135m-instruct"
    assert any(s.hit.path.endswith("returns-policy.html") for s in card.entry.sources)
    assert window.citations.model.rowCount() == len(card.entry.sources)
    save_screenshot(window, "answer-real-model")
