"""Pulling models through huggingface_hub from a local stand-in for the hub (never the network)."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest
from support.fake_hub import FakeHub, write_gguf

from ragdesk import db, paths
from ragdesk.llm import catalogue, download
from ragdesk.llm.download import (
    DownloadCancelled,
    DownloadError,
    HubUnreachable,
    RemoteFileNotFound,
    VerificationFailed,
    pull,
    pull_model,
)
from ragdesk.llm.registry import DuplicateModel, InvalidModelFile, ModelRegistry

QWEN = catalogue.find("qwen3-0.6b")
REPO, FILE = "someone/Tiny-GGUF", "tiny-Q4_K_M.gguf"


@pytest.fixture
def online(monkeypatch):
    """Undo the test suite's HF_HUB_OFFLINE for loopback-only hub tests; small chunks, quick retries."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(download, "CHUNK_SIZE", 64 * 1024)
    monkeypatch.setattr(download, "RETRY_WAIT", 0.01)


@pytest.fixture
def hub(online):
    with FakeHub() as server:
        yield server


@pytest.fixture
def registry(ragdesk_home):
    conn = db.connect(paths.db_path())
    yield ModelRegistry(conn)
    conn.close()


@pytest.fixture
def payload(tmp_path):
    """A valid GGUF of about 400 kB: several chunks, so progress, drops and cancels happen mid-file."""
    return write_gguf(tmp_path / "src.gguf", extra_floats=100_000).read_bytes()


def partials():
    folder = paths.models_dir() / ".partial"
    return sorted(folder.glob("*.part")) if folder.exists() else []


def test_pull_reports_progress_verifies_and_registers(hub, registry, payload):
    hub.add(QWEN.repo_id, QWEN.filename, payload)
    seen = []
    entry = pull_model(QWEN.name, registry=registry, endpoint=hub.endpoint, progress=lambda d, t: seen.append((d, t)))
    assert entry.path.read_bytes() == payload and entry.path.is_relative_to(paths.models_dir())
    assert entry.sha256 == hashlib.sha256(payload).hexdigest()
    assert (entry.name, entry.source, entry.license) == (QWEN.name, QWEN.source, "Apache-2.0")
    assert entry.meta["repo_id"] == QWEN.repo_id and len(entry.meta["commit"]) == 40
    assert seen[-1] == (len(payload), len(payload)) and len(seen) > 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert [(r.method, "Range" in r.headers) for r in hub.requests] == [("HEAD", False), ("GET", False)]
    assert ModelRegistry(db.connect(paths.db_path())).get(QWEN.name) == entry
    assert partials() == []


def test_pull_of_a_present_model_needs_no_network(hub, registry, payload):
    hub.add(REPO, FILE, payload)
    first = pull(REPO, FILE, registry=registry, endpoint=hub.endpoint)
    hub.stop()  # no hub at all now
    assert pull(REPO, FILE, registry=registry, endpoint="http://127.0.0.1:9") == first
    assert registry.get("tiny-q4_k_m").path == first


def test_a_dropped_connection_resumes_with_a_range_request(hub, registry, payload):
    hub.add(REPO, FILE, payload)
    hub.drop_after = 150_000
    path = pull(REPO, FILE, registry=registry, endpoint=hub.endpoint)
    assert path.read_bytes() == payload
    first, second = hub.gets()
    assert "Range" not in first.headers
    start = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= 150_000  # only what arrived whole was kept, and only the rest was sent again


def test_cancel_keeps_the_partial_file_and_the_next_pull_resumes(hub, registry, payload):
    hub.add(REPO, FILE, payload)
    done = [0]
    with pytest.raises(DownloadCancelled, match="cancelled; .* is kept, pull again to resume") as info:
        pull(REPO, FILE, registry=registry, endpoint=hub.endpoint,
             progress=lambda d, t: done.__setitem__(0, d), cancel=lambda: done[0] >= 128 * 1024)
    assert "\n" not in str(info.value)
    kept = partials()[0].stat().st_size
    assert kept == done[0] == 128 * 1024  # whole chunks only; the one in flight was not written
    assert [e for e in registry.list() if not e.builtin] == []  # nothing registered yet
    path = pull(REPO, FILE, registry=registry, endpoint=hub.endpoint)
    assert path.read_bytes() == payload
    assert hub.gets()[-1].headers["Range"] == f"bytes={kept}-"
    assert partials() == []


def test_a_server_that_ignores_range_restarts_cleanly(hub, registry, payload):
    hub.add(REPO, FILE, payload)
    done = [0]
    with pytest.raises(DownloadCancelled):
        pull(REPO, FILE, registry=registry, endpoint=hub.endpoint,
             progress=lambda d, t: done.__setitem__(0, d), cancel=lambda: done[0] >= 128 * 1024)
    hub.ignore_range = True
    assert pull(REPO, FILE, registry=registry, endpoint=hub.endpoint).read_bytes() == payload
    assert "Range" in hub.gets()[-1].headers  # asked to resume, got 200 + everything, kept no stale bytes


def test_cancel_from_another_thread_like_the_gui(hub, registry, payload):
    hub.add(REPO, FILE, payload)
    hub.delay = 0.02  # a slow line, so the download is still running when Cancel is pressed
    started, stop, outcome = threading.Event(), threading.Event(), []

    def worker():
        try:
            pull(REPO, FILE, registry=registry, endpoint=hub.endpoint,
                 progress=lambda d, t: d and started.set(), cancel=stop.is_set)
        except DownloadCancelled as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    assert started.wait(10)
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and len(outcome) == 1
    assert 0 < partials()[0].stat().st_size < len(payload)
    before = len(hub.requests)
    with pytest.raises(DownloadCancelled, match="before it started"):  # a flag already raised
        pull(REPO, FILE, registry=registry, endpoint=hub.endpoint, cancel=lambda: True)
    assert len(hub.requests) == before


def test_a_sha256_mismatch_is_rejected_and_nothing_is_registered(hub, registry, payload):
    hub.add(REPO, FILE, payload, sha256="0" * 64)
    with pytest.raises(VerificationFailed, match="does not match the hub's sha256 .* deleted, try again"):
        pull(REPO, FILE, registry=registry, endpoint=hub.endpoint)
    assert [e for e in registry.list() if not e.builtin] == []
    assert partials() == [] and not (paths.models_dir() / REPO.replace("/", "--")).exists()


def test_a_file_that_is_not_gguf_is_rejected(hub, registry):
    hub.add(REPO, "README.gguf", b"# not a model\n" * 100)
    with pytest.raises(InvalidModelFile, match="someone/Tiny-GGUF/README.gguf is not a usable GGUF file"):
        pull(REPO, "README.gguf", registry=registry, endpoint=hub.endpoint)
    assert [e for e in registry.list() if not e.builtin] == [] and partials() == []


def test_a_file_without_lfs_etag_is_checked_through_the_tree_api(hub, registry, payload):
    hub.add(REPO, FILE, payload, lfs=False)
    entry = download.pull_entry(REPO, FILE, registry=registry, endpoint=hub.endpoint)
    assert entry.sha256 == hashlib.sha256(payload).hexdigest()
    assert any(r.method == "POST" and "/paths-info/" in r.path for r in hub.requests)


def test_connection_refused_says_offline(online, registry):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(HubUnreachable, match=r"could not reach 127\.0\.0\.1:\d+ .* \(offline\?\)"):
        pull(REPO, FILE, registry=registry, endpoint=f"http://127.0.0.1:{port}")


def test_offline_mode_fails_before_any_request(registry, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as the test suite (and an offline user) sets it
    with FakeHub() as server:
        server.add(REPO, FILE, b"x")
        with pytest.raises(HubUnreachable, match="could not reach .* offline mode is on"):
            pull(REPO, FILE, registry=registry, endpoint=server.endpoint)
        assert server.requests == []


def test_missing_repository_revision_or_file(hub, registry, payload):
    hub.add(REPO, FILE, payload)
    with pytest.raises(RemoteFileNotFound, match="no repository 'nobody/Nothing'"):
        pull("nobody/Nothing", FILE, registry=registry, endpoint=hub.endpoint)
    with pytest.raises(RemoteFileNotFound, match="has no file 'other.gguf'"):
        pull(REPO, "other.gguf", registry=registry, endpoint=hub.endpoint)
    with pytest.raises(RemoteFileNotFound, match="has no revision 'v9'"):
        pull(REPO, FILE, revision="v9", registry=registry, endpoint=hub.endpoint)
    with pytest.raises(DownloadError, match="not a valid repository id"):
        pull("a/b/c", FILE, registry=registry, endpoint=hub.endpoint)


def test_a_taken_name_is_refused_before_downloading(hub, registry, payload, tmp_path):
    registry.add(write_gguf(tmp_path / "local.gguf"), name=QWEN.name)
    hub.add(QWEN.repo_id, QWEN.filename, payload)
    with pytest.raises(DuplicateModel, match="choose another name"):
        pull_model(QWEN.name, registry=registry, endpoint=hub.endpoint)
    assert hub.requests == []
    entry = pull_model(QWEN.name, registry=registry, endpoint=hub.endpoint, name="qwen-small")
    assert entry.name == "qwen-small" and entry.license == "Apache-2.0"


def test_a_file_deleted_by_hand_is_downloaded_again(hub, registry, payload):
    hub.add(REPO, FILE, payload)
    path = pull(REPO, FILE, registry=registry, endpoint=hub.endpoint)
    path.unlink()
    assert pull(REPO, FILE, registry=registry, endpoint=hub.endpoint).read_bytes() == payload
    assert len(hub.gets()) == 2


def test_unknown_catalogue_name(registry):
    with pytest.raises(DownloadError, match="'tinyllama' is not in the catalogue \\(qwen3-0.6b, "):
        pull_model("tinyllama", registry=registry)
    with pytest.raises(DownloadError, match="give the file to download too"):
        pull_model("owner/repo", registry=registry)
