"""Make an int8 ONNX copy of a local sentence-transformers model, once, and find it again.

The copy is built from the bundled PyTorch weights (no network): the transformer
with mean pooling and L2 normalisation inside the graph, exported by
``torch.onnx.export`` and quantised by onnxruntime's dynamic int8 quantiser. It
lives in the data folder's cache under a name that carries a hash of the source
files and of this exporter's version, next to a ``meta.json`` that records the
ONNX file's own hash, so a changed model makes a new copy and a damaged copy is
noticed and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ragdesk import paths

EXPORTER_VERSION = 3  # bump when the graph or the quantisation changes: old copies are then ignored
ENV_CACHE = "RAGDESK_MODEL_CACHE"  # the same variable the built-in language models honour (tests share one)
INT8_NAME = "model-int8.onnx"
FP32_NAME = "model-fp32.onnx"
_SOURCE_FILES = ("config.json", "modules.json", "tokenizer.json", "sentence_bert_config.json",
                 "1_Pooling/config.json", "model.safetensors", "pytorch_model.bin")


class ExportError(Exception):
    """The model cannot be turned into ONNX here (unsupported layout, exporter failure, no room)."""


@dataclass(frozen=True)
class OnnxModel:
    """A ready ONNX copy: the graph file and the input names it takes."""

    path: Path
    inputs: tuple[str, ...]
    source_dir: Path


def cache_root() -> Path:
    """Where exported embedding models live: $RAGDESK_MODEL_CACHE, else the data folder's ``cache``."""
    root = Path(os.environ[ENV_CACHE]).expanduser() if os.environ.get(ENV_CACHE) else paths.home() / "cache"
    return root / "embedding-models"


def check_supported(model_dir: Path) -> None:
    """Raise ExportError unless the model is transformer + mean pooling (+ normalise) only.

    Only that layout is rebuilt inside the graph; anything else (CLS pooling,
    dense layers) stays on PyTorch rather than giving different vectors.
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"not a sentence-transformers folder with a pooling config ({exc})") from exc
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ExportError(f"modules {kinds} are not transformer + pooling (+ normalize)")
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise ExportError(f"pooling {modes} is not mean pooling")


def source_hash(model_dir: Path) -> str:
    """SHA-256 over the model's files that shape its vectors, plus the exporter version."""
    stats = []
    for name in _SOURCE_FILES:
        file = model_dir / name
        if file.exists():
            st = file.stat()
            stats.append((name, st.st_size, st.st_mtime_ns))
    return _hash_files(str(model_dir), tuple(stats))


@lru_cache(maxsize=16)
def _hash_files(model_dir: str, stats: tuple) -> str:
    # Keyed by size and mtime too: hashing ~90 MB of weights once per process is enough.
    digest = hashlib.sha256(f"ragdesk-onnx-exporter-{EXPORTER_VERSION}\n".encode())
    for name, size, _mtime in stats:
        digest.update(f"{name}\0{size}\0".encode())
        digest.update(_file_sha256(Path(model_dir) / name).encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_folder(model_dir: Path, name: str) -> Path:
    """The cache folder of this model's copy (its name carries the source hash)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"
    return cache_root() / f"{safe}-{source_hash(model_dir)[:16]}"


def find_cached(folder: Path) -> OnnxModel | None:
    """The copy in ``folder`` if it is complete and undamaged, else None."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        model = folder / INT8_NAME
        if meta.get("exporter") != EXPORTER_VERSION or not model.is_file():
            return None
        if model.stat().st_size != meta["size"] or _file_sha256(model) != meta["sha256"]:
            return None
        return OnnxModel(model, tuple(meta["inputs"]), Path(meta["source"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_int8(model_dir: Path, name: str) -> tuple[OnnxModel, bool]:
    """The int8 copy of ``model_dir``, exported now if missing or damaged; (model, built now)."""
    check_supported(model_dir)
    folder = cached_folder(model_dir, name)
    found = find_cached(folder)
    if found is not None:
        return found, False
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock

        lock = FileLock(str(folder) + ".lock")
        lock.acquire(timeout=600)
    except Exception as exc:  # noqa: BLE001 - no room, read-only, a file where the folder should be
        raise ExportError(f"cannot write to the cache folder {folder.parent}: {exc}") from exc
    try:
        found = find_cached(folder)  # another process may have built it while we waited
        if found is not None:
            return found, False
        shutil.rmtree(folder, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
        try:
            inputs = build(model_dir, work, keep_fp32=False)
            model = work / INT8_NAME
            meta = {
                "exporter": EXPORTER_VERSION,
                "source": str(model_dir),
                "source_sha256": source_hash(model_dir),
                "inputs": list(inputs),
                "size": model.stat().st_size,
                "sha256": _file_sha256(model),
            }
            (work / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
            os.replace(work, folder)  # the copy appears whole or not at all
        finally:
            shutil.rmtree(work, ignore_errors=True)
        found = find_cached(folder)
        if found is None:
            raise ExportError(f"the exported copy in {folder} does not read back")
        return found, True
    finally:
        lock.release()


def build(model_dir: Path, out: Path, *, keep_fp32: bool = False) -> tuple[str, ...]:
    """Export ``model_dir`` to ``out/model-fp32.onnx`` and quantise it to ``out/model-int8.onnx``.

    Returns the graph's input names. Needs torch, transformers and onnx (first use only).
    """
    fp32 = out / FP32_NAME
    try:
        inputs = _export_fp32(model_dir, fp32)
        _quantize(fp32, out / INT8_NAME)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - exporter and quantiser raise many kinds
        raise ExportError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    if not keep_fp32:
        fp32.unlink(missing_ok=True)
    return inputs


def _quantize(fp32: Path, dest: Path) -> None:
    """Dynamic int8: weights int8 per output channel, activations uint8 per batch.

    Measured against PyTorch on 62 SciFact abstracts (AVX2 without VNNI): per-tensor
    scales gave cosines down to 0.90; per-channel 0.98 (mean 0.992); per-channel
    with the feed-forward down-projections (``.../output/dense``, whose GELU inputs
    have outliers that one uint8 scale cannot hold) left in fp32: 0.986, mean 0.996.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    keep_fp32 = [n.name for n in graph.node
                 if n.op_type == "MatMul" and "/output/dense" in n.name and "/attention/" not in n.name]
    logging.disable(logging.WARNING)  # the quantiser writes advice to the root logger
    try:
        quantize_dynamic(str(fp32), str(dest), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=keep_fp32)
    finally:
        logging.disable(logging.NOTSET)


def _export_fp32(model_dir: Path, dest: Path) -> tuple[str, ...]:
    import inspect
    import warnings

    import torch
    from transformers import AutoModel

    from ragdesk.embedding.quiet import quiet_transformers

    quiet_transformers()
    encoder = AutoModel.from_pretrained(str(model_dir)).eval()
    accepted = inspect.signature(encoder.forward).parameters
    inputs = ("input_ids", "attention_mask") + (("token_type_ids",) if "token_type_ids" in accepted else ())

    class MeanPooled(torch.nn.Module):
        """Transformer, mean over real tokens, unit length: what the Pooling + Normalize modules do."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *args):
            tokens = self.encoder(**dict(zip(inputs, args))).last_hidden_state
            mask = args[1].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in inputs)
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    axes["embedding"] = {0: "batch"}
    kwargs = dict(input_names=list(inputs), output_names=["embedding"], dynamic_axes=axes, opset_version=17)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(MeanPooled(), sample, str(dest), dynamo=False, **kwargs)
        except TypeError:  # a torch from before the dynamo switch
            torch.onnx.export(MeanPooled(), sample, str(dest), **kwargs)
    return inputs
