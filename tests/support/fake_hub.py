"""A local stand-in for the Hugging Face hub, and small GGUF files to serve from it.

``FakeHub`` is a threaded HTTP server on 127.0.0.1 (random port) answering the
requests ``ragdesk.llm.download`` makes through huggingface_hub:

* ``HEAD``/``GET /{repo_id}/resolve/{revision}/{filename}`` with the headers
  huggingface_hub reads (``X-Repo-Commit``, ``ETag``/``X-Linked-Etag`` holding the
  LFS sha256, ``X-Linked-Size``, ``Content-Length``), byte ranges (206 with
  ``Content-Range``, 416 past the end) and the hub's ``X-Error-Code`` 404s;
* ``POST /api/models/{repo_id}/paths-info/{revision}`` (the tree API's LFS oids);
* ``GET /api/models/{repo_id}/revision/{revision}`` (repo info: commit and file list) and
  ``GET /api/models/{repo_id}/tree/{revision}`` (every file with size and LFS oid), which
  ``snapshot_download`` asks before fetching a whole repository.

Fault injection for tests: ``drop_after`` closes the connection of the next GET
after that many body bytes (once), ``delay`` slows every 64 KiB piece,
``ignore_range`` answers ranged GETs with the whole file, and a file may
advertise a wrong sha256. Every request is recorded in ``requests``.
Point huggingface_hub at it with ``endpoint=hub.endpoint`` or ``HF_ENDPOINT``.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

COMMIT = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_PATHS_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)$")
_REPO_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<what>revision|tree)/(?P<rev>[^/]+)/?$")
_PIECE = 64 * 1024


@dataclass
class HubFile:
    data: bytes
    sha256: str  # what the hub advertises (normally the real digest)
    lfs: bool = True


@dataclass
class Request:
    method: str
    path: str
    headers: dict = field(default_factory=dict)


class FakeHub:
    """Serve files as the hub would; use as a context manager."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], HubFile] = {}
        self.requests: list[Request] = []
        self.drop_after: int | None = None
        self.delay = 0.0
        self.ignore_range = False  # answer 200 with the whole file, as some CDNs do
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- content
    def add(self, repo_id: str, filename: str, data: bytes, *, sha256: str | None = None, lfs: bool = True) -> HubFile:
        item = HubFile(data, sha256 or hashlib.sha256(data).hexdigest(), lfs)
        self.files[(repo_id, filename)] = item
        return item

    def gets(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET"]

    # -- server
    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start the hub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _record(self) -> None:
        with self.hub._lock:
            self.hub.requests.append(Request(self.command, self.path, dict(self.headers.items())))

    def _error(self, status: int, code: str) -> None:
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _lookup(self) -> tuple[HubFile | None, str, str]:
        match = _RESOLVE.match(unquote(urlsplit(self.path).path))
        if not match:
            self._error(404, "RepoNotFound")
            return None, "", ""
        repo, rev, name = match["repo"], match["rev"], match["file"]
        if not any(r == repo for r, _ in self.hub.files):
            self._error(404, "RepoNotFound")
        elif rev not in ("main", COMMIT):
            self._error(404, "RevisionNotFound")
        elif (repo, name) not in self.hub.files:
            self._error(404, "EntryNotFound")
        else:
            return self.hub.files[(repo, name)], repo, name
        return None, "", ""

    def _file_headers(self, item: HubFile) -> None:
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        if item.lfs:
            self.send_header("ETag", f'"{item.sha256}"')
            self.send_header("X-Linked-Etag", f'"{item.sha256}"')
            self.send_header("X-Linked-Size", str(len(item.data)))
        else:  # a git blob: its etag is a sha1, not the content's sha256
            self.send_header("ETag", f'"{hashlib.sha1(item.data).hexdigest()}"')

    def do_HEAD(self) -> None:
        self._record()
        item, _, _ = self._lookup()
        if item is None:
            return
        self.send_response(200)
        self._file_headers(item)
        self.send_header("Content-Length", str(len(item.data)))
        self.end_headers()

    def _send_json(self, data) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _repo_api(self, match: re.Match) -> None:
        repo, rev = match["repo"], match["rev"]
        names = sorted(name for r, name in self.hub.files if r == repo)
        if not names:
            self._error(404, "RepoNotFound")
        elif rev not in ("main", COMMIT):
            self._error(404, "RevisionNotFound")
        elif match["what"] == "revision":
            self._send_json({"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                             "siblings": [{"rfilename": name} for name in names]})
        else:
            self._send_json([_tree_entry(name, self.hub.files[(repo, name)]) for name in names])

    def do_GET(self) -> None:
        self._record()
        api = _REPO_API.match(unquote(urlsplit(self.path).path))
        if api:
            self._repo_api(api)
            return
        item, _, _ = self._lookup()
        if item is None:
            return
        size, start = len(item.data), 0
        ranged = None if self.hub.ignore_range else re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if ranged:
            start = int(ranged[1])
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            end = min(int(ranged[2]), size - 1) if ranged[2] else size - 1
            body = item.data[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            body = item.data
            self.send_response(200)
        self._file_headers(item)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with self.hub._lock:
            drop, self.hub.drop_after = self.hub.drop_after, None
        sent = 0
        for offset in range(0, len(body), _PIECE):
            piece = body[offset : offset + _PIECE]
            if drop is not None and sent + len(piece) > drop:
                self.wfile.write(piece[: drop - sent])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)  # the client sees a body cut short
                return
            self.wfile.write(piece)
            sent += len(piece)
            if self.hub.delay:
                self.wfile.flush()
                time.sleep(self.hub.delay)

    def do_POST(self) -> None:
        self._record()
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        match = _PATHS_INFO.match(unquote(urlsplit(self.path).path))
        if not match:
            self._error(404, "RepoNotFound")
            return
        out = [_tree_entry(name, self.hub.files[(match["repo"], name)])
               for name in form.get("paths", []) if (match["repo"], name) in self.hub.files]
        self._send_json(out)


def _tree_entry(name: str, item: HubFile) -> dict:
    """A file as the hub's tree and paths-info APIs describe it."""
    info = {"type": "file", "path": name, "size": len(item.data), "oid": hashlib.sha1(item.data).hexdigest()}
    if item.lfs:
        info["lfs"] = {"oid": item.sha256, "size": len(item.data), "pointerSize": 134}
    return info


# ---------------------------------------------------------------- GGUF files


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    name: str = "tiny test model",
    n_embd: int = 32,
    extra_floats: int = 0,
    license: str | None = None,
    seed: int = 0,
) -> Path:
    """A small, valid (not runnable) model GGUF: token embedding, one attention weight, optional padding tensor."""
    import gguf

    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(Path(path), arch)
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(name)
    if license:
        w.add_license(license)
    w.add_context_length(256)
    w.add_embedding_length(n_embd)
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", rng.standard_normal((64, n_embd)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((n_embd, n_embd)).astype(np.float32))
    if extra_floats:
        w.add_tensor("blk.0.ffn_up.weight", rng.standard_normal((extra_floats // n_embd, n_embd)).astype(np.float32))
    _finish(w)
    return Path(path)


def write_lora(path: Path, *, arch: str = "llama", n_embd: int = 32, rank: int = 4, seed: int = 1) -> Path:
    """A LoRA adapter GGUF for ``blk.0.attn_q.weight`` of a ``write_gguf`` model with the same ``n_embd``."""
    import gguf

    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(Path(path), arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 8.0)
    w.add_tensor("blk.0.attn_q.weight.lora_a", rng.standard_normal((rank, n_embd)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight.lora_b", rng.standard_normal((n_embd, rank)).astype(np.float32))
    _finish(w)
    return Path(path)


def _finish(writer) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
