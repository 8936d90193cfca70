"""Load and real-model checks of ``ragdesk serve`` and ``--engine`` (slow).

20 concurrent clients x 5 requests on the tiny GGUF: every request answered,
nothing lost; with SmolLM2, answers through the server cite the right document.
"""

from __future__ import annotations

import statistics
import threading
import time

import httpx2
import openai
import pytest
from support.serving import KETTLE, LlamaCppServer, prepare_home, threads_for_tests

pytestmark = pytest.mark.slow

MODELS = ["rag:manuals", "closed", "lora@tiny-lora", "hybrid:manuals@tiny-lora"]


def test_twenty_concurrent_clients_every_request_answered(tmp_path, tiny_model, tiny_lora):
    from ragdesk.server.config import ServeConfig
    from ragdesk.server.runner import RagdeskServer

    db, settings = prepare_home(tmp_path, tiny_model.gguf_path, tiny_lora)
    server = RagdeskServer(ServeConfig(port=0, model="tiny", max_queue=32), settings, db_path=db)
    server.start()
    clients, per_client = 20, 5
    latencies: list[float] = []
    failures: list[str] = []
    answered: list[int] = []

    def client(i: int) -> None:
        with httpx2.Client(base_url=server.address, timeout=120) as http:
            for j in range(per_client):
                body = {"model": MODELS[(i + j) % len(MODELS)], "max_tokens": 8, "temperature": 0,
                        "messages": [{"role": "user", "content": f"Question {i}.{j}: how often to descale?"}],
                        "stream": (i + j) % 2 == 0}
                t0 = time.perf_counter()
                response = http.post("/v1/chat/completions", json=body)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                elif body["stream"]:
                    if not response.text.rstrip().endswith("data: [DONE]") or '"citations"' not in response.text:
                        failures.append("a stream did not end properly")
                    else:
                        answered.append(1)
                elif response.json()["choices"][0]["message"]["role"] == "assistant":
                    answered.append(1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    try:
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        wall = time.perf_counter() - t0
        done, cancelled = server.worker.done, server.worker.cancelled
    finally:
        server.stop()
    assert failures == []
    assert len(answered) == clients * per_client
    assert (done, cancelled) == (clients * per_client, 0)  # the engine ran every request, dropped none
    latencies.sort()
    p50, p95 = statistics.median(latencies), latencies[int(0.95 * len(latencies)) - 1]
    print(f"\n{clients}x{per_client} requests in {wall:.1f} s: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")


def test_smollm2_answers_through_the_server_cite_the_manual(tmp_path):
    from ragdesk.server.config import ServeConfig
    from ragdesk.server.runner import RagdeskServer

    db, settings = prepare_home(tmp_path, None, None)
    settings.n_threads = threads_for_tests(2)
    server = RagdeskServer(ServeConfig(port=0, model="smollm2-135m-instruct"), settings, db_path=db)
    server.start()
    try:
        client = openai.OpenAI(base_url=server.address + "/v1", api_key="none", max_retries=0)
        stream = client.chat.completions.create(
            model="rag:manuals", temperature=0, max_tokens=60, stream=True,
            messages=[{"role": "user", "content": "How often must the Aurora kettle be descaled?"}])
        chunks = list(stream)
    finally:
        server.stop()
    last = chunks[-1].model_extra
    assert "6 weeks" in last["answer"], last["answer"]
    assert last["citations"], last["answer"]
    assert all(c["name"] == "kettle.md" for c in last["citations"])
    assert last["citations"][0]["heading"] == "Aurora Kettle manual > Descaling"
    first = last["citations"][0]
    assert KETTLE[first["start"]:first["end"]].strip()[:40] in first["text"] or first["text"] in KETTLE


def test_smollm2_on_llama_cpp_server_rag_cites_locally_retrieved_sources(store, tmp_path):
    from ragdesk.chat import ChatSession
    from ragdesk.llm.registry import ModelRegistry
    from ragdesk.llm.remote import RemoteEngine

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.md").write_text(KETTLE)
    store.index([docs])
    path = ModelRegistry(store.conn).resolve("smollm2-135m-instruct").path
    server = LlamaCppServer(tmp_path, [{"model": str(path), "model_alias": "smollm2", "n_ctx": 2048,
                                        "n_threads": threads_for_tests(2), "verbose": False}]).start()
    try:
        session = ChatSession(store, engine=RemoteEngine(server.url, n_ctx=2048))
        answer = session.ask("How often must the Aurora kettle be descaled?", mode="rag", temperature=0,
                             max_tokens=60)
    finally:
        server.stop()
    assert answer.model == "smollm2" and answer.retrieved
    assert answer.cited, answer.text
    assert all(hit.path.endswith("kettle.md") for _, hit in answer.cited)

