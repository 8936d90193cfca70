"""The one place that decides which engine embeds: int8 ONNX when it can be had, else PyTorch.

``auto`` (the default) and ``onnx-int8`` use an int8 ONNX copy of the model made
from its local weights on first use (see onnx_export); ``torch`` always uses
sentence-transformers. Whenever the ONNX path cannot be used the choice falls
back to PyTorch and the reason is logged, so indexing never stops for it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx-int8", "torch")

_lock = threading.Lock()
_chosen: dict[tuple, Choice] = {}


@dataclass(frozen=True)
class Choice:
    """The engine for one model: ``encoder`` is None for PyTorch; ``reason`` says why this one."""

    backend: str  # "onnx-int8" | "torch"
    encoder: object | None
    reason: str


def choose(name: str, model_dir: Path | None, requested: str, max_tokens: int) -> Choice:
    """The engine for model ``name`` (found at ``model_dir``), decided once per process."""
    from ragdesk.embedding.onnx_export import cache_root

    if requested not in BACKENDS:
        log.warning("unknown embedding_backend %r: using 'auto'", requested)
        requested = "auto"
    key = (name, str(model_dir), requested, max_tokens, str(cache_root()))
    with _lock:
        choice = _chosen.get(key)
        if choice is None:
            choice = _decide(name, model_dir, requested, max_tokens)
            _chosen[key] = choice
        return choice


def forget() -> None:
    """Drop the decisions made so far (tests; a changed setting)."""
    with _lock:
        _chosen.clear()


def _decide(name: str, model_dir: Path | None, requested: str, max_tokens: int) -> Choice:
    if requested == "torch":
        return Choice("torch", None, "embedding_backend is 'torch'")
    if model_dir is None:
        return _fallback(name, "the model is not a local folder, so no ONNX copy can be made from it", requested)
    from ragdesk.embedding.onnx_export import ExportError, check_supported

    try:
        check_supported(model_dir)
    except ExportError as exc:
        return _fallback(name, str(exc), requested)
    try:
        return _load_onnx(name, model_dir, max_tokens)
    except ExportError as exc:
        return _fallback(name, str(exc), requested, warn=True)
    except Exception as exc:  # noqa: BLE001 - anything at all: PyTorch still works
        return _fallback(name, f"{type(exc).__name__}: {exc}", requested, warn=True)


def _load_onnx(name: str, model_dir: Path, max_tokens: int) -> Choice:
    from ragdesk.embedding.onnx_encoder import OnnxEncoder
    from ragdesk.embedding.onnx_export import ensure_int8

    for attempt in (1, 2):
        model, built = ensure_int8(model_dir, name)
        if built:
            log.info("embedding model %s: made an int8 ONNX copy in %s", name, model.path.parent)
        try:
            encoder = OnnxEncoder(model.path, model_dir / "tokenizer.json", model.inputs, max_tokens)
        except Exception as exc:  # noqa: BLE001 - onnxruntime cannot read it: rebuild once
            if attempt == 2:
                raise
            log.warning("embedding model %s: the ONNX copy does not load (%s); rebuilding it", name, exc)
            shutil.rmtree(model.path.parent, ignore_errors=True)
            continue
        return Choice("onnx-int8", encoder, f"int8 ONNX copy {model.path}")
    raise AssertionError("unreachable")


def _fallback(name: str, reason: str, requested: str, *, warn: bool = False) -> Choice:
    # An explicit request, or a failure on a model that should work, is worth a
    # warning; a model that simply has no ONNX form is ordinary.
    level = logging.WARNING if (warn or requested == "onnx-int8") else logging.INFO
    log.log(level, "embedding model %s runs on PyTorch: %s", name, reason)
    return Choice("torch", None, reason)
