"""Helpers for the server tests: a prepared data folder, servers on 127.0.0.1, free ports.

Every server here listens on the loopback address only, and every subprocess
started here is ended by the fixture that started it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from support.threads import threads_for_tests  # noqa: F401 - re-exported for the server tests

KETTLE = """# Aurora Kettle manual

## Descaling

The Aurora kettle must be descaled every 6 weeks using a solution of citric acid.
The descaling indicator glows violet when it is time.

## Warranty

The warranty lasts 7 years if the kettle is registered within 30 days of purchase.
"""
BREAD = "Sourdough bread needs a starter made of flour and water, fed every day."


_LOCAL_HTTP = None


def local_http():
    """One HTTP client for the tests' plain requests to servers on 127.0.0.1.

    ``httpx2.get``/``post`` make a client per call, and each client loads the system's CA
    certificates (~50 ms of CPU), which plain-HTTP requests to the loopback never use.
    """
    global _LOCAL_HTTP
    if _LOCAL_HTTP is None:
        import httpx2

        _LOCAL_HTTP = httpx2.Client()
    return _LOCAL_HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_home(root: Path, gguf: Path | None, lora: Path | None, *, collection: str = "manuals",
                 model_name: str = "tiny"):
    """A database with two documents indexed into ``collection`` and the model (+ adapter) registered.

    Returns (db_path, settings).
    """
    from ragdesk.llm.registry import ModelRegistry
    from ragdesk.settings import Settings
    from ragdesk.store import KnowledgeStore

    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "kettle.md").write_text(KETTLE)
    (docs / "bread.txt").write_text(BREAD)
    settings = Settings()
    settings.n_ctx, settings.n_threads, settings.max_tokens = 2048, threads_for_tests(), 16
    db = root / "ragdesk.db"
    with KnowledgeStore(db, settings) as store:
        store.index([docs], collection)
        registry = ModelRegistry(store.conn)
        if gguf is not None:
            registry.add(gguf, name=model_name)
        if lora is not None:
            registry.add(lora, name=f"{model_name}-lora", base_model=model_name)
    return db, settings


class LlamaCppServer:
    """llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) in a subprocess."""

    def __init__(self, workdir: Path, models: list[dict], *, api_key: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"host": "127.0.0.1", "port": self.port, "models": models}
        if api_key:
            config["api_key"] = api_key
        self.config_path = Path(workdir) / "llama-server.json"
        self.config_path.write_text(json.dumps(config))
        self.log_path = Path(workdir) / "llama-server.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> LlamaCppServer:
        import httpx2

        log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--config_file",
                                         str(self.config_path)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if local_http().get(self.url + "/v1/models", timeout=1).status_code in (200, 401):
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("llama_cpp.server did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class MisbehavingServer:
    """A small HTTP server on 127.0.0.1 that lists ``models``, then answers chats badly (or briefly).

    ``behaviour``: "slow" (waits ``delay`` seconds before any answer), "html" (a web
    page instead of JSON), "garbage-stream" (an event stream of non-JSON), "401"
    (refuses the key) or "ok" (a proper two-piece stream).
    """

    def __init__(self, behaviour: str, *, delay: float = 5.0, models: tuple[str, ...] = ("m",)) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.behaviour, self.delay, self.models = behaviour, delay, models
        self.requests: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/v1/models":
                    listed = [{"id": name, "object": "model"} for name in outer.models]
                    self._send(200, json.dumps({"object": "list", "data": listed}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not here"}}')

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(body)
                if self.path != "/v1/chat/completions":
                    return self._send(404, b'{"error": {"message": "not here"}}')
                if outer.behaviour == "slow":
                    time.sleep(outer.delay)
                    return self._send(200, b'{"choices": [{"message": {"content": "late"}}]}')
                if outer.behaviour == "html":
                    return self._send(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
                if outer.behaviour == "401":
                    return self._send(401, b'{"error": {"message": "Invalid API key"}}')
                if outer.behaviour == "garbage-stream":
                    return self._send(200, b"data: this is not json\n\n", "text/event-stream")
                pieces = [{"choices": [{"delta": {"content": t}, "finish_reason": None}]} for t in ("Hel", "lo")]
                pieces.append({"choices": [{"delta": {}, "finish_reason": "stop"}]})
                stream = "".join(f"data: {json.dumps(p)}\n\n" for p in pieces) + "data: [DONE]\n\n"
                self._send(200, stream.encode(), "text/event-stream")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll: shutdown() waits for the serving loop to look, 0.5 s by default.
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
