"""Starting and stopping ``ragdesk serve``: the engine thread, the socket and uvicorn.

:class:`RagdeskServer` is used three ways: ``serve_forever()`` by the CLI (Ctrl-C
stops it), ``start()``/``stop()`` by the desktop app and the tests, which run
uvicorn on a thread of its own. The socket is bound before uvicorn starts, so a
port in use is reported as such and port 0 picks a free one.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

from ragdesk.errors import RagdeskError
from ragdesk.server.config import ServeConfig, exposure_warning
from ragdesk.server.worker import EngineWorker

log = logging.getLogger(__name__)


class ServeError(RagdeskError, RuntimeError):
    """The server could not start (port in use, model not loadable...)."""


class RagdeskServer:
    """One OpenAI-compatible server over one model; ``address`` once started."""

    def __init__(self, config: ServeConfig, settings=None, *, engine_choice=None,
                 db_path: str | Path | None = None) -> None:
        self.config = config
        self.settings = settings
        self.engine_choice = engine_choice
        self.db_path = db_path
        self.worker: EngineWorker | None = None
        self.address: str | None = None
        self.model_name: str | None = None
        self._uvicorn = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def warning(self) -> str | None:
        return exposure_warning(self.config)

    def _prepare(self):
        """Load the model on the engine thread, bind the socket, build uvicorn (not started)."""
        import uvicorn

        from ragdesk.server.app import create_app
        from ragdesk.server.backend import Backend

        worker = EngineWorker(
            lambda: Backend(self.settings, model=self.config.model, engine_choice=self.engine_choice,
                            db_path=self.db_path),
            max_queue=self.config.max_queue,
        )
        backend = worker.start()  # raises what loading the model raised
        try:
            sock = _bind(self.config.host, self.config.port)
        except BaseException:
            worker.stop()
            raise
        self.worker, self._socket, self.model_name = worker, sock, backend.model_name
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.address = f"http://{shown}:{port}"
        config = uvicorn.Config(
            create_app(worker, self.config), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=3, timeout_keep_alive=5,
        )
        self._uvicorn = uvicorn.Server(config)
        return self._uvicorn

    def start(self, timeout: float = 30.0) -> str:
        """Start serving on a thread; returns the address (raises ServeError or the model's error)."""
        server = self._prepare()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [self._socket]},
                                        name="ragdesk-serve-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServeError("the HTTP server did not start (see the log)")
            time.sleep(0.01)
        return self.address

    def serve_forever(self, on_ready=None) -> None:
        """Serve on this thread until Ctrl-C (uvicorn's own signal handling)."""
        server = self._prepare()
        if on_ready is not None:
            on_ready(self.address)
        try:
            server.run(sockets=[self._socket])
        finally:
            self._shutdown_worker()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting requests, cancel what runs, close the model (safe to call twice)."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self.worker is not None and self.worker.current is not None:
            self.worker.current.cancel()  # lets a streaming answer end so uvicorn can close it
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._shutdown_worker()

    def _shutdown_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise ServeError(f"port {port} on {host} is already in use: choose another with --port") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
