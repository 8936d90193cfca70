"""The window preloads what the first question needs, and the answer card shows its stages.

Real window offscreen, real worker threads, the tiny real GGUF and a real library.
"""

from __future__ import annotations

from ui_screenshots import WAIT_MS, test_settings

from ragdesk.store import KnowledgeStore
from ragdesk.ui.main_window import create_main_window

DOC = "The kettle must be descaled every six weeks with citric acid, then rinsed twice."


def open_window(qtbot, tmp_path, tiny_model):
    """Index one document, choose the tiny model as the last one used, open the window."""
    (tmp_path / "kettle.txt").write_text(DOC, encoding="utf-8")
    settings = test_settings(model=str(tiny_model.gguf_path))
    settings.save()
    with KnowledgeStore(None, settings) as store:
        store.index([tmp_path / "kettle.txt"])
    window = create_main_window(settings)
    qtbot.addWidget(window)
    window.show()
    return window


def test_the_window_preloads_and_a_question_sent_at_once_waits_for_it(qtbot, tmp_path, tiny_model):
    window = open_window(qtbot, tmp_path, tiny_model)
    c = window.controller
    status = window.findChild(type(window.model_status), "preloadStatus")
    try:
        assert c.model_state == "loading" and status.text() == "Loading model…"
        # Asked before anything is loaded: accepted, and queued behind the preload.
        assert window.chat.input.isEnabled() and c.can_ask()
        finished = []
        c.answerFinished.connect(lambda _rid, answer: finished.append(answer))
        request = window.send("How often is the kettle descaled?")
        assert request is not None
        qtbot.waitUntil(lambda: bool(finished), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: status.text() == "Ready", timeout=WAIT_MS)
        assert c.warmed["searched"] and c.warmed["primed_tokens"] > 0
        engine = c.model_worker.session.engine
        assert engine.load_count == 1  # the question used the preloaded model: no second load
        # ...and the prefix the preload evaluated: the first answer did not evaluate it again.
        assert finished[0].stats["cached_prompt_tokens"] >= c.warmed["primed_tokens"]
        assert len(finished[0].retrieved) == 1
    finally:
        window.close()


def test_the_answer_card_shows_each_stage_with_its_elapsed_time(qtbot, tmp_path, tiny_model):
    window = open_window(qtbot, tmp_path, tiny_model)
    c = window.controller
    try:
        qtbot.waitUntil(lambda: c.model_state == "ready" and not c.warming, timeout=WAIT_MS)
        footers: list[str] = []
        # Connected after the window's own slot: sees the footer the stage produced.
        c.answerStage.connect(lambda _rid, _stage: footers.append(window.chat.streaming_card.footer.text()))
        with qtbot.waitSignal(c.answerFinished, timeout=WAIT_MS):
            window.send("How often is the kettle descaled?")
        card = window.chat.cards[-1]
        tokens = c.model_worker.session.engine.count_tokens(card.entry.sources[0].hit.text)
        assert footers[0].startswith("Searching… ") and footers[0].endswith(" s")
        assert footers[1].startswith(f"Reading 1 source, {tokens:,} tokens… ") and footers[1].endswith(" s")
        if len(footers) > 2:
            assert footers[2].startswith("Writing… first token after ")
        assert "Searching" not in card.footer.text() and "Reading" not in card.footer.text()
    finally:
        window.close()
