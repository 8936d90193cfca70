"""The int8 ONNX embedding path: same vectors as PyTorch, made once, rebuilt when damaged, PyTorch when it fails.

Real all-MiniLM-L6-v2 weights, a real export, real onnxruntime; the ONNX copy
is built in a private cache folder so the cache behaviour is observed from the
start.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from ragdesk.embedder import Embedder, resolve_model_path
from ragdesk.embedding import backend, onnx_export
from ragdesk.embedding.batching import token_batches

SAMPLES = Path(__file__).resolve().parents[1] / "ragdesk" / "sample_docs"


def real_texts() -> list[str]:
    """Paragraphs of the bundled sample documents, short and long, plus a few odd inputs."""
    texts = []
    for file in sorted(SAMPLES.iterdir()):
        texts += [p.strip() for p in file.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 20]
    long = " ".join(texts)  # far past the 256-token limit: truncated the same way on both paths
    return texts[:40] + [long, "x", "Wie spät ist es? 東京 — naïve café ☕", "def f(x):\n    return x ** 2"]


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(onnx_export.ENV_CACHE, str(tmp_path / "model-cache"))
    backend.forget()
    yield tmp_path / "model-cache" / "embedding-models"
    backend.forget()


def test_token_batches_group_by_length_within_the_budget():
    lengths = [5, 300, 40, 41, 7, 256, 256, 1]
    groups = token_batches(lengths, budget=512)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        longest = max(lengths[i] for i in group)
        assert len(group) == 1 or len(group) * longest <= 512
    flat = [lengths[i] for g in groups for i in g]
    assert flat == sorted(lengths)  # similar lengths share a batch: little padding


@pytest.mark.slow  # exports the model into a private cache (about a minute)
def test_int8_vectors_match_pytorch_and_the_copy_is_made_once(private_cache, caplog):
    texts = real_texts()
    caplog.set_level(logging.INFO, logger="ragdesk.embedding.backend")
    fast = Embedder(backend="auto")
    assert fast.engine.backend == "onnx-int8", fast.engine.reason
    assert any("made an int8 ONNX copy" in r.getMessage() for r in caplog.records)
    copies = list(private_cache.glob("*/model-int8.onnx"))
    assert len(copies) == 1
    built_at = copies[0].stat().st_mtime_ns

    reference = Embedder(backend="torch")
    assert reference.engine.backend == "torch"
    a, b = fast.encode(texts), reference.encode(texts)
    assert a.shape == b.shape == (len(texts), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(a * b, axis=1)
    # int8 costs a little: 0.99 on average, no single vector below 0.97 (AVX2 without VNNI measured 0.98).
    assert cosines.mean() >= 0.99, cosines.mean()
    assert cosines.min() >= 0.97, cosines.min()
    query = fast.encode_query("How do I return a lantern?")
    assert float(query @ reference.encode_query("How do I return a lantern?")) >= 0.99

    # A second process (here: a forgotten decision) finds the copy and does not export again.
    backend.forget()
    caplog.clear()
    again = Embedder(backend="onnx-int8")
    assert again.engine.backend == "onnx-int8"
    assert not any("made an int8 ONNX copy" in r.getMessage() for r in caplog.records)
    assert copies[0].stat().st_mtime_ns == built_at
    # Dynamic quantisation scales activations per batch, so other batch-mates move a vector a little.
    assert np.sum(again.encode(texts[:5]) * a[:5], axis=1).min() >= 0.98


@pytest.mark.slow  # exports the model once into the shared test cache
def test_batches_run_side_by_side_land_in_their_own_rows():
    from ragdesk.embedding.onnx_encoder import OnnxEncoder

    model_dir = Path(resolve_model_path("all-MiniLM-L6-v2"))
    model, _ = onnx_export.ensure_int8(model_dir, "all-MiniLM-L6-v2")
    texts = real_texts()
    serial = OnnxEncoder(model.path, model_dir / "tokenizer.json", model.inputs, 256, workers=1)
    parallel = OnnxEncoder(model.path, model_dir / "tokenizer.json", model.inputs, 256, workers=2)
    # A small budget makes many batches, so both workers take several, out of input order.
    a = serial.encode(texts, batch_tokens=64)
    b = parallel.encode(texts, batch_tokens=64)
    assert np.array_equal(a, b)  # same batches, same arithmetic: only the threads differ
    alone = np.stack([serial.encode([t])[0] for t in texts])
    assert np.sum(alone * b, axis=1).min() >= 0.98  # each row is its own text's vector


@pytest.mark.slow  # exports the model twice
def test_a_damaged_copy_is_noticed_and_rebuilt(private_cache, caplog):
    model_dir = Path(resolve_model_path("all-MiniLM-L6-v2"))
    first, built = onnx_export.ensure_int8(model_dir, "all-MiniLM-L6-v2")
    assert built
    data = first.path.read_bytes()
    first.path.write_bytes(data[: len(data) // 3])  # a half-written file after a crash
    assert onnx_export.find_cached(first.path.parent) is None

    caplog.set_level(logging.INFO, logger="ragdesk.embedding.backend")
    embedder = Embedder(backend="auto")
    assert embedder.engine.backend == "onnx-int8"
    assert any("made an int8 ONNX copy" in r.getMessage() for r in caplog.records)
    assert first.path.read_bytes() != data[: len(data) // 3]
    assert onnx_export.find_cached(first.path.parent) is not None
    assert embedder.encode(["a lantern with a dead battery"]).shape == (1, 384)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_an_unwritable_cache_falls_back_to_pytorch_with_the_reason_logged(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(onnx_export.ENV_CACHE, str(blocker))
    backend.forget()
    caplog.set_level(logging.INFO, logger="ragdesk.embedding.backend")
    try:
        embedder = Embedder(backend="auto")
        choice = embedder.engine
        assert choice.backend == "torch" and choice.encoder is None
        assert "cache folder" in choice.reason
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any("runs on PyTorch" in r.getMessage() and "cache folder" in r.getMessage() for r in warnings)
        vectors = embedder.encode(["still indexed, on PyTorch"])
        assert vectors.shape == (1, 384)
    finally:
        backend.forget()


def test_torch_setting_and_unknown_values(private_cache, caplog):
    assert Embedder(backend="torch").engine.backend == "torch"
    assert not private_cache.exists()  # asking for PyTorch makes no copy
    caplog.set_level(logging.WARNING, logger="ragdesk.embedding.backend")
    Embedder(name="/no/such/model", backend="bogus")  # construction alone decides nothing
    choice = backend.choose("all-MiniLM-L6-v2", None, "bogus", 256)
    assert choice.backend == "torch"  # not a local folder: no copy can be made
    assert any("unknown embedding_backend 'bogus'" in r.getMessage() for r in caplog.records)
