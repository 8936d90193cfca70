"""``--engine URL``: generation on an OpenAI-compatible server, retrieval and conversations kept local.

The server is llama-cpp-python's own (``python -m llama_cpp.server``) on 127.0.0.1
with the tiny GGUF; the adapter is served the vLLM way, as a model of its own
(a second model alias with ``lora_path``). Failures use a small server of our own
that is down, silent, or answers nonsense.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.serving import KETTLE, LlamaCppServer, MisbehavingServer, free_port, threads_for_tests

from ragdesk.chat import ChatSession
from ragdesk.llm.gguf_info import AdapterError
from ragdesk.llm.remote import RemoteEngine, parse_adapter_map
from ragdesk.llm.remote_protocol import RemoteEngineError


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory, tiny_model, tiny_lora):
    common = {"model": str(tiny_model.gguf_path), "n_ctx": 2048, "n_threads": threads_for_tests(), "verbose": False}
    server = LlamaCppServer(tmp_path_factory.mktemp("llama-server"), [
        {**common, "model_alias": "tiny"},
        {**common, "model_alias": "tiny-lora", "lora_path": str(tiny_lora)},
    ]).start()
    yield server
    server.stop()


@pytest.fixture
def indexed(store, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.md").write_text(KETTLE)
    (docs / "bread.txt").write_text("Sourdough bread needs a starter made of flour and water, fed every day.")
    store.index([docs])
    store.settings.n_ctx = 2048
    return store


def remote_session(store, url, **kw) -> ChatSession:
    engine = RemoteEngine(url, n_ctx=2048, **kw)
    return ChatSession(store, engine=engine)


QUESTION = "How often must the Aurora kettle be descaled?"


@pytest.mark.slow  # starts llama_cpp.server with the model
def test_rag_lora_and_hybrid_answer_on_the_server_with_local_retrieval(indexed, llama_server):
    session = remote_session(indexed, llama_server.url, adapters=parse_adapter_map(["papers-lora=tiny-lora"]))
    info = session.load_model(None)
    assert info.name == "tiny" and session.engine.facts.kind == "llama-cpp-python"
    assert session.engine.token_counting == "llama-cpp-python"  # exact counts from /extras/tokenize
    session.choose_adapter("papers-lora")
    answers = {m: session.ask(QUESTION, mode=m, max_tokens=8, temperature=0) for m in ("rag", "lora", "hybrid", "closed")}
    rag, lora, hybrid, closed = (answers[m] for m in ("rag", "lora", "hybrid", "closed"))
    assert rag.retrieved and rag.retrieved[0].path.endswith("kettle.md") and rag.adapter is None
    assert hybrid.retrieved and hybrid.adapter == "papers-lora"
    assert lora.retrieved == [] and closed.retrieved == []
    assert lora.text != closed.text  # the server's adapter model answered
    assert rag.stats["prompt_tokens"] > 100 and 0 < rag.stats["completion_tokens"] <= 8
    # budgets and conversations stay local: each answer was stored with its question
    stored = session.conversations.messages(rag.conversation_id)
    assert [(m.role, m.mode) for m in stored] == [("user", "rag"), ("assistant", "rag")]
    assert stored[1].retrieved[0]["path"].endswith("kettle.md")


@pytest.mark.slow  # starts llama_cpp.server with the model; the fast pass checks the same on a small server below
def test_adapters_are_chosen_by_mapping_or_by_the_servers_model_list(indexed, llama_server):
    choose_a_listed_adapter(indexed, llama_server.url)


def choose_a_listed_adapter(indexed, url: str) -> None:
    """An unmapped adapter the server lacks is refused with the fix; one it lists needs no mapping."""
    session = remote_session(indexed, url)
    session.load_model("tiny")
    with pytest.raises(AdapterError, match="--engine-adapter papers=SERVER_NAME"):
        session.choose_adapter("papers")
    session.choose_adapter("tiny-lora")  # the server lists it: no mapping needed
    assert session.ask(QUESTION, mode="lora", max_tokens=4, temperature=0).adapter == "tiny-lora"


def test_an_adapter_the_server_lists_needs_no_mapping(indexed):
    with MisbehavingServer("ok", models=("tiny", "tiny-lora")) as server:
        choose_a_listed_adapter(indexed, server.url)
    assert server.requests[-1]["model"] == "tiny-lora"  # asked for as a model of its own


def test_llama_cpp_style_adapters_send_every_scale(store):
    with MisbehavingServer("ok") as server:
        session = remote_session(store, server.url, adapters=parse_adapter_map(["a=lora:0", "b=lora:1"]))
        session.load_model(None)
        session.choose_adapter("b", scale=0.5)
        assert session.ask(QUESTION, mode="lora", max_tokens=4).text == "Hello"
        session.ask(QUESTION, mode="closed", max_tokens=4)
    lora_request, closed_request = server.requests[-2:]
    assert lora_request["lora"] == [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.5}]
    assert closed_request["lora"] == [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.0}]
    assert lora_request["model"] == "m" and lora_request["stream"] is True
    assert session.engine.token_counting == "estimate"  # this server offers no tokenizer


def test_a_down_server_is_named_in_a_sentence(store):
    session = remote_session(store, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RemoteEngineError, match=r"cannot reach the engine at http://127\.0\.0\.1:\d+/v1"):
        session.ask(QUESTION, mode="closed")


@pytest.mark.parametrize("behaviour, message", [
    ("slow", "sent nothing for 0.5 s"),
    ("html", "did not answer like an OpenAI-compatible server"),
    ("garbage-stream", "a stream chunk is not JSON"),
    ("401", "refused the key"),
])
def test_a_failing_server_loses_no_conversation(store, behaviour, message):
    with MisbehavingServer("ok") as good:
        session = remote_session(store, good.url, timeout=0.5)
        first = session.ask("First question?", mode="closed", max_tokens=4)
    with MisbehavingServer(behaviour, delay=3) as bad:
        session.engine.base_url = bad.url + "/v1"  # the same engine, its server now misbehaving
        with pytest.raises(RemoteEngineError, match=message):
            session.ask(QUESTION, mode="closed", conversation_id=first.conversation_id, max_tokens=4)
    stored = session.conversations.messages(first.conversation_id)
    assert [(m.role, m.content) for m in stored][-1] == ("user", QUESTION)
    assert [m.role for m in stored] == ["user", "assistant", "user"]
    assert not session.engine._busy  # ready for the next question


def test_cancel_stops_waiting_for_a_silent_server(store):
    import threading
    import time

    with MisbehavingServer("slow", delay=5) as slow:
        session = remote_session(store, slow.url, timeout=30)
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        t0 = time.monotonic()
        answer = session.ask(QUESTION, mode="closed", cancel=stop.is_set)
        assert time.monotonic() - t0 < 3  # not the server's 5 s
    assert answer.stats["stop_reason"] == "cancelled"


def test_ask_with_engine_on_the_command_line(indexed):
    indexed.close()
    with MisbehavingServer("ok", models=("tiny", "tiny-lora")) as server:
        data = ask_through_engine(server.url)
    assert data["answer"] == "Hello" and server.requests[-1]["model"] == "tiny-lora"


def ask_through_engine(url: str) -> dict:
    """`ragdesk ask --engine URL` with the adapter mapped to the server's tiny-lora: its --json answer.

    Also checks what holds for any server: the choices echoed, the right source, and a clear
    message (no traceback) when no engine answers.
    """
    from ragdesk.cli import cli

    result = CliRunner().invoke(cli, [
        "ask", QUESTION, "--mode", "hybrid", "--lora", "papers-lora", "--max-tokens", "6", "--json",
        "--engine", url, "--engine-adapter", "papers-lora=tiny-lora",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "hybrid" and data["adapter"] == "papers-lora" and data["model"] == "tiny"
    assert data["retrieved"][0]["path"].endswith("kettle.md")
    down = CliRunner().invoke(cli, ["ask", QUESTION, "--engine", f"http://127.0.0.1:{free_port()}"])
    assert down.exit_code == 1 and "cannot reach the engine" in down.output and "Traceback" not in down.output
    return data


@pytest.mark.slow  # starts llama_cpp.server with the model; the test above asks the same of a small server
def test_ask_with_engine_on_the_command_line_on_llama_cpp_server(indexed, llama_server):
    indexed.close()
    ask_through_engine(llama_server.url)
