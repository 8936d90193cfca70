"""``ragdesk serve``: a real uvicorn server on 127.0.0.1 over the tiny GGUF, driven by real clients.

The official ``openai`` client checks what OpenAI clients see (models, chat,
streaming, embeddings, a wrong key); raw HTTP checks what a client library
would never send (malformed JSON, oversized bodies, bad values).
"""

from __future__ import annotations

import json
import threading
import time

import httpx2
import openai
import pytest
from support.serving import local_http, prepare_home

KEY = "test-key"


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_model, tiny_lora):
    return prepare_home(tmp_path_factory.mktemp("serve-home"), tiny_model.gguf_path, tiny_lora)


def start_server(home, **config):
    from ragdesk.server.config import ServeConfig
    from ragdesk.server.runner import RagdeskServer

    db, settings = home
    options = dict(host="127.0.0.1", port=0, model="tiny", max_queue=4, max_body_bytes=64_000, max_tokens=256)
    server = RagdeskServer(ServeConfig(**{**options, **config}), settings, db_path=db)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(home):
    server = start_server(home, api_key=KEY)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.address + "/v1", api_key=KEY, max_retries=0, timeout=60)


def post(server, path, body=None, *, raw: bytes | None = None, key=KEY, headers=None, timeout=60):
    hdrs = {"content-type": "application/json", **({"authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
    content = raw if raw is not None else json.dumps(body).encode()
    return local_http().post(server.address + path, content=content, headers=hdrs, timeout=timeout)


def assert_openai_error(response, status, *, param=None, code=None):
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


QUESTION = [{"role": "user", "content": "How often must the Aurora kettle be descaled?"}]


# ---------------------------------------------------------------------------- the openai client


def test_models_lists_every_mode_collection_and_adapter(client):
    ids = {m.id for m in client.models.list()}
    assert ids == {"rag:manuals", "hybrid:manuals@tiny-lora", "lora@tiny-lora", "closed"}


def test_chat_answers_with_usage_and_the_retrieved_citations_field(client, server):
    reply = client.chat.completions.create(model="rag:manuals", messages=QUESTION, max_tokens=8, temperature=0)
    assert reply.object == "chat.completion" and reply.model == "rag:manuals"
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 100  # the sources are in the prompt
    assert 0 < reply.usage.completion_tokens <= 8
    citations = reply.model_extra["citations"]
    assert isinstance(citations, list)  # the tiny random model rarely cites: the slow test checks content
    for c in citations:
        assert f"[{c['n']}]" in choice.message.content


def test_streaming_ends_with_a_chunk_that_carries_citations_and_the_answer(client):
    stream = client.chat.completions.create(model="hybrid:manuals@tiny-lora", messages=QUESTION, max_tokens=12,
                                            temperature=0, stream=True)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason in ("stop", "length")
    assert isinstance(last.model_extra["citations"], list)
    assert last.usage.completion_tokens > 0
    assert isinstance(last.model_extra["answer"], str) and text.strip()


def test_the_adapter_of_the_model_id_is_applied_and_removed(client):
    def ask(model):
        reply = client.chat.completions.create(model=model, messages=QUESTION, max_tokens=8, temperature=0, seed=1)
        return reply.choices[0].message.content

    closed, lora = ask("closed"), ask("lora@tiny-lora")
    assert closed != lora
    assert ask("closed") == closed  # the adapter was removed again


def test_history_and_sampling_options_are_accepted(client):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": [{"type": "text", "text": "What about the kettle?"}]},
    ]
    reply = client.chat.completions.create(model="closed", messages=messages, max_tokens=6, temperature=0.7,
                                           top_p=0.9, seed=3, stop=["\n\n"])
    assert reply.usage.completion_tokens <= 6


def test_embeddings_use_the_collection_model(client):
    reply = client.embeddings.create(model="manuals", input=["descaling", "warranty terms"])
    assert [d.index for d in reply.data] == [0, 1]
    assert len(reply.data[0].embedding) == 384 and reply.model == "all-MiniLM-L6-v2"
    assert reply.usage.prompt_tokens > 0
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-collection", input="x")


def test_a_wrong_key_is_refused_with_401(server):
    bad = openai.OpenAI(base_url=server.address + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.models.list()
    assert caught.value.status_code == 401
    assert_openai_error(post(server, "/v1/chat/completions", {"model": "closed", "messages": QUESTION}, key=None),
                        401, code="invalid_api_key")
    assert local_http().get(server.address + "/nope").status_code == 401  # even unknown routes
    health = local_http().get(server.address + "/health")  # the one open route
    assert health.status_code == 200 and health.json()["status"] == "ok"


# ---------------------------------------------------------------------------- raw HTTP


def test_bad_requests_get_4xx_in_openai_shape_and_the_server_keeps_serving(server):
    assert_openai_error(post(server, "/v1/chat/completions", raw=b'{"model": "rag", "messages": [}'), 400)
    assert_openai_error(post(server, "/v1/chat/completions", {"model": "rag:nope", "messages": QUESTION}),
                        404, param="model", code="model_not_found")
    assert_openai_error(post(server, "/v1/chat/completions", {"model": "chatgpt", "messages": QUESTION}),
                        404, code="model_not_found")
    assert_openai_error(post(server, "/v1/chat/completions",
                             {"model": "closed", "messages": QUESTION, "max_tokens": -5}), 400, param="max_tokens")
    assert_openai_error(post(server, "/v1/chat/completions",
                             {"model": "closed", "messages": QUESTION, "max_tokens": 100_000}), 400, param="max_tokens")
    assert_openai_error(post(server, "/v1/chat/completions", {"model": "closed", "messages": []}), 400)
    assert_openai_error(post(server, "/v1/chat/completions",
                             {"model": "closed", "messages": [{"role": "assistant", "content": "hi"}]}), 400)
    assert_openai_error(post(server, "/v1/search", {"query": ""}), 400)
    assert_openai_error(post(server, "/v1/chat/completions", raw=b"[1, 2]"), 400)
    # still serving
    ok = post(server, "/v1/chat/completions", {"model": "closed", "messages": QUESTION, "max_tokens": 4})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["role"] == "assistant"


def test_an_oversized_body_is_refused_with_413(server):
    big = {"model": "closed", "messages": [{"role": "user", "content": "x" * 70_000}]}
    assert_openai_error(post(server, "/v1/chat/completions", big), 413, code="request_too_large")

    def chunked():  # no content-length: the limit holds while the body arrives
        for _ in range(20):
            yield b"x" * 8_000

    response = local_http().post(server.address + "/v1/chat/completions", content=chunked(),
                           headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    assert_openai_error(response, 413)


def test_search_returns_hits_with_their_citations(server):
    response = post(server, "/v1/search", {"query": "descaling citric acid", "collection": "manuals", "k": 2})
    assert response.status_code == 200, response.text
    hits = response.json()["data"]
    assert hits[0]["name"] == "kettle.md" and hits[0]["n"] == 1
    assert hits[0]["heading"] == "Aurora Kettle manual > Descaling"
    assert "citric acid" in hits[0]["text"] and hits[0]["end"] > hits[0]["start"]
    assert_openai_error(post(server, "/v1/search", {"query": "x", "collection": "nope"}), 404)


def test_cors_headers_only_when_asked_for(server, home):
    origin = {"origin": "http://app.example"}
    plain = local_http().get(server.address + "/health", headers=origin)
    assert "access-control-allow-origin" not in plain.headers
    open_server = start_server(home, cors_origins=["http://app.example"])
    try:
        allowed = local_http().get(open_server.address + "/v1/models", headers=origin)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://app.example"
    finally:
        open_server.stop()


# ---------------------------------------------------------------------------- queue and disconnects


def hold_engine(server):
    """Occupy the engine thread until the returned event is set."""
    import asyncio

    release, holding = threading.Event(), threading.Event()

    def hold(_backend, _job):
        holding.set()
        release.wait(30)

    server.worker.submit(hold, asyncio.new_event_loop())
    assert holding.wait(10)
    return release


def test_a_full_queue_answers_429_and_loses_no_waiting_request(server):
    release = hold_engine(server)
    results: list[int] = []

    def ask():
        r = post(server, "/v1/chat/completions", {"model": "closed", "messages": QUESTION, "max_tokens": 2})
        results.append(r.status_code)

    waiting = [threading.Thread(target=ask) for _ in range(server.config.max_queue)]
    try:
        for t in waiting:
            t.start()
        deadline = time.monotonic() + 10
        while server.worker.waiting < server.config.max_queue and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.worker.waiting == server.config.max_queue
        full = post(server, "/v1/chat/completions", {"model": "closed", "messages": QUESTION})
        assert_openai_error(full, 429, code="queue_full")
    finally:
        release.set()
        for t in waiting:
            t.join(60)
    assert results == [200] * server.config.max_queue


def test_a_request_whose_client_left_while_it_waited_is_skipped(server):
    release = hold_engine(server)
    cancelled, done = server.worker.cancelled, server.worker.done
    try:
        with pytest.raises(httpx2.ReadTimeout):  # the client gives up while its request waits in the queue
            post(server, "/v1/chat/completions", {"model": "closed", "messages": QUESTION}, timeout=0.5)
        # The handler notices within its poll interval and cancels the job still in the queue.
        queued = lambda: [job for job in list(server.worker._jobs.queue) if job is not None]  # noqa: E731
        deadline = time.monotonic() + 10
        while not any(job.is_cancelled() for job in queued()) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while server.worker.cancelled == cancelled and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.worker.cancelled == cancelled + 1
    assert server.worker.done == done + 1  # only the holding job ran


def test_a_client_leaving_mid_stream_frees_the_engine_within_a_second(server, monkeypatch):
    backend = server.worker.owned
    answer = backend.answer

    def slow_answer(mid, question, history, params, on_token, cancel):
        def paced(piece):  # a token every 20 ms: the stream is still running when the client leaves
            time.sleep(0.02)
            on_token(piece)

        return answer(mid, question, history, params, paced if on_token else None, cancel)

    monkeypatch.setattr(backend, "answer", slow_answer)
    seen = len(server.worker.cancel_latencies)
    body = {"model": "closed", "messages": QUESTION, "max_tokens": 200, "stream": True}
    with httpx2.stream("POST", server.address + "/v1/chat/completions", json=body,
                       headers={"authorization": f"Bearer {KEY}"}, timeout=30) as response:
        assert response.status_code == 200
        received = 0
        for line in response.iter_lines():
            received += line.startswith("data:")
            if received == 3:
                break  # leaving the block closes the connection mid-answer
    assert received == 3
    deadline = time.monotonic() + 10
    while len(server.worker.cancel_latencies) == seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(server.worker.cancel_latencies) == seen + 1, "the engine never saw the client leave"
    assert server.worker.cancel_latencies[-1] < 1.0
    monkeypatch.undo()
    after = post(server, "/v1/chat/completions", {"model": "closed", "messages": QUESTION, "max_tokens": 2})
    assert after.status_code == 200


# ---------------------------------------------------------------------------- the command


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_ragdesk_serve_command_takes_its_key_from_the_environment(tmp_path, tiny_model, tiny_lora):
    import os
    import re
    import signal
    import subprocess
    import sys
    from pathlib import Path

    home = tmp_path / "home"
    _db, settings = prepare_home(home, tiny_model.gguf_path, tiny_lora)
    settings.save(home / "settings.json")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "RAGDESK_HOME": str(home), "RAGDESK_API_KEY": "env-key",
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "ragdesk", "serve", "--port", "0", "--model", "tiny"],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        address = re.search(r"(http://127\.0\.0\.1:\d+)/v1 \(API key required\)", line)
        assert address, line
        url = address.group(1)
        assert httpx2.get(url + "/v1/models").status_code == 401
        models = httpx2.get(url + "/v1/models", headers={"authorization": "Bearer env-key"})
        assert "hybrid:manuals@tiny-lora" in [m["id"] for m in models.json()["data"]]
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.wait(30)
    assert proc.returncode == 0
