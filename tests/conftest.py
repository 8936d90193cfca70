"""Shared fixtures: a private data folder per test, offline settings, Qt offscreen."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

# Before anything imports Qt or huggingface_hub: no display, no network.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# One assembled copy of the Gemma built-in for the whole run, not one per test home.
os.environ.setdefault("RAGDESK_MODEL_CACHE", str(Path(tempfile.gettempdir()) / "ragdesk-test-model-cache"))

# Bytecode caches even under PYTHONDONTWRITEBYTECODE=1 (set on the build machine): without them every run
# compiles ragdesk again and pytest rewrites the asserts of every test module again, ~4 s of CPU a run.
# __pycache__ is git-ignored; RAGDESK_TEST_BYTECODE=0 leaves Python's setting alone.
if os.environ.get("RAGDESK_TEST_BYTECODE", "1") != "0":
    sys.dont_write_bytecode = False

sys.path.insert(0, str(Path(__file__).parent))  # lets tests import tests/support as `support`

from support.temp_root import use_ram_temp_root  # noqa: E402 - needs the path above

use_ram_temp_root()  # tmp_path in memory where there is room: no waiting for SQLite's syncs to disk


@pytest.fixture(autouse=True)
def ragdesk_home(tmp_path, monkeypatch):
    """Every test gets its own empty data folder (never the user's)."""
    from ragdesk import paths

    home = tmp_path / "ragdesk-home"
    monkeypatch.setenv(paths.ENV_HOME, str(home))
    paths.set_home(None)
    yield home
    paths.set_home(None)


@pytest.fixture(autouse=True)
def fake_embedder(request, monkeypatch):
    """Fast tests embed with the deterministic HashEmbedder (no torch, no model load).

    Tests marked ``slow`` or ``real_embedder`` (they measure what the real model
    finds) use all-MiniLM-L6-v2. The variable reaches subprocesses (the CLI) too.
    """
    from ragdesk.fake_embedder import FAKE_ENV

    if request.node.get_closest_marker("slow") or request.node.get_closest_marker("real_embedder"):
        monkeypatch.delenv(FAKE_ENV, raising=False)
    else:
        monkeypatch.setenv(FAKE_ENV, "1")


@pytest.fixture
def store(ragdesk_home):
    """A KnowledgeStore on a fresh database in the test's data folder."""
    from support.threads import threads_for_tests

    from ragdesk.store import KnowledgeStore

    with KnowledgeStore() as s:
        s.settings.n_threads = threads_for_tests(s.settings.n_threads)  # what real-model sessions on it use
        yield s


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random-weight llama model (HF dir + GGUF twin with a chat template), built once."""
    from support.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_lora(tiny_model, tmp_path_factory):
    """A random LoRA adapter GGUF that visibly changes the tiny model's output."""
    from support.tiny_models import build_random_lora_gguf

    return build_random_lora_gguf(tiny_model.gguf_path, tmp_path_factory.mktemp("tiny-lora") / "tiny-lora.gguf")
