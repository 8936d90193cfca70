"""The app's two serving controls, offscreen: Settings ▸ Serve to other programs, Models ▸ Engine."""

from __future__ import annotations

import socket

import httpx2
import pytest
from support.serving import MisbehavingServer, free_port, local_http
from ui_screenshots import WAIT_MS, make_window, save_screenshot  # noqa: F401 - make_window is a fixture

from ragdesk.settings import Settings
from ragdesk.ui.qt import Qt

SERVE_WAIT_MS = 120_000  # the server loads its own copy of the model (and the embedding model)


def load_tiny(window, qtbot, tiny_model):
    window.controller.load_model(str(tiny_model.gguf_path))
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=WAIT_MS)


def test_settings_serve_starts_a_server_that_outlives_the_dialog_and_stops(make_window, qtbot, tiny_model):
    window = make_window()
    load_tiny(window, qtbot, tiny_model)
    dialog = window.open_settings()
    panel = dialog.serve_panel
    assert panel.status.text() == "Not serving." and panel.button.text() == "Start"
    port = free_port()
    panel.port.setValue(port)
    panel.key.setText("app-key")
    qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    assert panel.controller.state == "starting"  # the click returned at once: loading runs on a worker thread
    assert not panel.port.isEnabled() and panel.button.text() == "Stop"
    qtbot.waitUntil(lambda: panel.controller.running, timeout=SERVE_WAIT_MS)
    assert f"http://127.0.0.1:{port}/v1" in panel.status.text()
    save_screenshot(dialog, "settings-serve")
    dialog.accept()
    assert Settings.load().serve_port == port  # the address is remembered, the key is not stored
    assert Settings.load().extra.get("serve_key") is None

    models = local_http().get(f"http://127.0.0.1:{port}/v1/models", headers={"authorization": "Bearer app-key"})
    assert models.status_code == 200 and [m["id"] for m in models.json()["data"]] == ["closed"]
    reply = local_http().post(f"http://127.0.0.1:{port}/v1/chat/completions",
                              headers={"authorization": "Bearer app-key"},
                              json={"model": "closed", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
                              timeout=60)
    assert reply.status_code == 200

    again = window.open_settings()  # the server kept running without the dialog
    assert again.serve_panel.controller.running and f":{port}/v1" in again.serve_panel.status.text()
    qtbot.mouseClick(again.serve_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.serve_panel.controller.state == "stopped", timeout=SERVE_WAIT_MS)
    assert again.serve_panel.status.text() == "Not serving."
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(f"http://127.0.0.1:{port}/health")
    again.reject()


def test_a_port_in_use_is_reported_in_the_panel(make_window, qtbot, tiny_model):
    window = make_window()
    load_tiny(window, qtbot, tiny_model)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        dialog = window.open_settings()
        panel = dialog.serve_panel
        panel.port.setValue(taken.getsockname()[1])
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.controller.state == "stopped", timeout=SERVE_WAIT_MS)
    assert "already in use" in panel.status.text() and panel.button.text() == "Start"
    dialog.reject()


def test_models_engine_tab_tests_a_server_and_switches_the_chat_engine(make_window, qtbot):
    from ragdesk.llm.engine import Engine
    from ragdesk.llm.remote import RemoteEngine

    window = make_window()
    dialog = window.open_model_manager()
    panel = dialog.engine_panel
    dialog.tabs.setCurrentWidget(panel)
    assert panel.local.isChecked() and not panel.server_fields.isEnabled()
    panel.remote.setChecked(True)
    assert panel.server_fields.isEnabled()
    panel.url.setText("not a url")
    panel.use_button.click()
    assert "http://" in panel.status.text()

    with MisbehavingServer("ok") as server:
        panel.url.setText(server.url)
        panel.adapters.setPlainText("papers-lora = papers\n")
        panel.test_button.click()
        qtbot.waitUntil(lambda: panel.status.text().startswith("Connected"), timeout=WAIT_MS)
        assert "model m" in panel.status.text() and "by estimate" in panel.status.text()
        save_screenshot(dialog, "models-engine")
        panel.use_button.click()
        assert panel.status.text() == f"Answers will be generated on a server at {server.url}."
        saved = Settings.load()
        assert saved.engine_url == server.url and saved.engine_adapters == {"papers-lora": "papers"}
        worker = window.controller.model_worker
        qtbot.waitUntil(lambda: isinstance(worker.session.engine, RemoteEngine), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.controller.model_name == "m", timeout=WAIT_MS)  # connected at once

        answers = []
        window.controller.answerFinished.connect(lambda _id, answer: answers.append(answer))
        assert window.controller.ask("Hello?") is not None
        qtbot.waitUntil(lambda: bool(answers), timeout=WAIT_MS)
        assert answers[0].text == "Hello" and answers[0].model == "m"

    panel.local.setChecked(True)
    panel.use_button.click()
    qtbot.waitUntil(lambda: isinstance(window.controller.model_worker.session.engine, Engine), timeout=WAIT_MS)
    assert Settings.load().engine_url is None
    dialog.reject()


def test_a_server_that_is_down_is_named_by_test_connection(qtbot):
    from ragdesk.ui.settings.engine_panel import EnginePanel

    panel = EnginePanel(Settings())
    qtbot.addWidget(panel)
    panel.remote.setChecked(True)
    panel.url.setText(f"http://127.0.0.1:{free_port()}")
    panel.test_button.click()
    qtbot.waitUntil(lambda: "cannot reach" in panel.status.text().lower(), timeout=WAIT_MS)
    panel.adapters.setPlainText("no equals sign")
    panel.use_button.click()
    assert "local adapter = server name" in panel.status.text()
    assert panel.shutdown()
