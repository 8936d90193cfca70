"""Bake a llama.cpp LoRA adapter into a standalone GGUF model.

``merge_lora`` reads the base with ``gguf.GGUFReader``, adds
``scale * alpha / rank * B @ A`` to every tensor the adapter touches (dequantized),
copies everything else byte for byte, and optionally quantizes the result with
llama.cpp's own quantizer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragdesk.errors import RagdeskError
from ragdesk.llm import gguf_tensors as gt

# --quant names -> llama_ftype values (llama.h). K-quants need rows that are a multiple
# of 256; llama.cpp falls back to a compatible type for tensors that are not.
QUANT_TYPES: dict[str, int] = {
    "F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
    "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15,
    "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "BF16": 32,
}

Progress = Callable[[float, str], None]


class LoraMergeError(RagdeskError):
    """The adapter cannot be merged into this base, or the result cannot be written."""


@dataclass(frozen=True)
class LoraPair:
    """One adapted base tensor: its name and the adapter's A and B reader tensors."""

    name: str
    a: Any
    b: Any


@dataclass(frozen=True)
class LoraAdapterFile:
    """What a llama.cpp LoRA GGUF holds."""

    path: Path
    architecture: str
    alpha: float
    pairs: list[LoraPair]


def read_lora_adapter(path: Path) -> LoraAdapterFile:
    """Read a llama.cpp LoRA adapter GGUF; ``LoraMergeError`` if it is not one."""
    path = Path(path)
    try:
        reader = gt.open_gguf(path)
    except gt.GGUFReadError as exc:
        raise LoraMergeError(f"Cannot read the adapter: {exc}") from None
    if gt.field_value(reader, "general.type") != "adapter" or gt.field_value(reader, "adapter.type") != "lora":
        raise LoraMergeError(f"{path.name} is not a LoRA adapter GGUF (it is a model or another kind of file).")
    halves: dict[str, dict[str, Any]] = {}
    for tensor in reader.tensors:
        for suffix in (".lora_a", ".lora_b"):
            if tensor.name.endswith(suffix):
                halves.setdefault(tensor.name.removesuffix(suffix), {})[suffix] = tensor
    pairs = []
    for name, parts in sorted(halves.items()):
        if len(parts) != 2:
            raise LoraMergeError(f"{path.name} is damaged: tensor {name} has only one of lora_a/lora_b.")
        pairs.append(LoraPair(name, parts[".lora_a"], parts[".lora_b"]))
    if not pairs:
        raise LoraMergeError(f"{path.name} holds no LoRA tensors.")
    return LoraAdapterFile(
        path=path,
        architecture=str(gt.field_value(reader, "general.architecture", "")),
        alpha=float(gt.field_value(reader, "adapter.lora.alpha", 0.0) or 0.0),
        pairs=pairs,
    )


def lora_delta(pair: LoraPair, alpha: float) -> np.ndarray:
    """``alpha / rank * B @ A`` as float32 in the base tensor's numpy shape (rows first).

    llama.cpp stores token-embedding adapters with A as (vocab x rank) and B as
    (hidden x rank) because it looks rows of A up by token id.
    """
    a, b = gt.dequantize(pair.a), gt.dequantize(pair.b)
    rank = b.shape[1]
    factor = alpha / rank if alpha else 1.0  # llama.cpp: alpha == 0 means "no scaling"
    if pair.name.endswith("token_embd.weight"):
        return factor * (a @ b.T)
    return factor * (b @ a)


def check_adapter_fits(base: Any, adapter: LoraAdapterFile, base_name: str = "the base model") -> None:
    """Raise ``LoraMergeError`` unless every adapter tensor matches a base tensor's shape."""
    arch = gt.field_value(base, "general.architecture")
    if adapter.architecture != arch:
        raise LoraMergeError(
            f"The adapter is for the {adapter.architecture or 'unknown'} architecture, "
            f"but {base_name} is {arch}."
        )
    tensors = gt.tensor_map(base)
    for pair in adapter.pairs:
        target = tensors.get(pair.name)
        if target is None:
            raise LoraMergeError(
                f"The adapter changes {pair.name}, which {base_name} does not have; wrong base model?")
        if pair.name == "token_embd.weight" and "output.weight" not in tensors:
            # llama.cpp would apply it to the tied output matrix too (and abort on the shapes).
            raise LoraMergeError(f"The adapter changes the token embeddings, which {base_name} shares with "
                                 "its output layer; llama.cpp cannot use such an adapter.")
        a, b = gt.tensor_shape(pair.a), gt.tensor_shape(pair.b)
        rows, cols = gt.tensor_shape(target)
        if pair.name.endswith("token_embd.weight"):
            fits = a[0] == rows and b[0] == cols and a[1] == b[1]
        else:
            fits = len(a) == 2 and len(b) == 2 and a[1] == cols and b[0] == rows and a[0] == b[1]
        if not fits:
            raise LoraMergeError(
                f"The adapter's {pair.name} does not fit {base_name} (base {rows}x{cols}, "
                f"adapter A {a[0]}x{a[1]}, B {b[0]}x{b[1]}); it was made for a model of another size."
            )


def _check_output(base: Path, out: Path) -> None:
    if out.resolve() == base.resolve():
        raise LoraMergeError("The output file must differ from the base model file.")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise LoraMergeError(f"Cannot write {out}: folder {parent} does not exist.")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise LoraMergeError(f"Cannot write {out}: permission denied.")


def merge_lora(
    base: Path,
    adapter: Path,
    out: Path,
    *,
    scale: float = 1.0,
    quant: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write ``out``: ``base`` with ``adapter`` (at ``scale``) merged into its weights.

    Touched tensors become F32 where the base tensor was F32, otherwise F16; with
    ``quant`` (a key of ``QUANT_TYPES``, e.g. ``"Q4_K_M"``) the whole file is then
    quantized by llama.cpp. ``progress(fraction, message)`` is called along the way.
    """
    import gguf

    base, adapter, out = Path(base), Path(adapter), Path(out)
    report = progress or (lambda fraction, message: None)
    ftype = None
    if quant is not None:
        ftype = QUANT_TYPES.get(quant.upper())
        if ftype is None:
            raise LoraMergeError(f"Unknown quantization type {quant!r}; use one of {', '.join(QUANT_TYPES)}.")
    _check_output(base, out)
    try:
        reader = gt.open_gguf(base)
    except gt.GGUFReadError as exc:
        raise LoraMergeError(f"Cannot read the base model: {exc}") from None
    if gt.field_value(reader, "general.type", "model") != "model":
        raise LoraMergeError(f"{base.name} is not a model (it is a {gt.field_value(reader, 'general.type')}).")
    lora = read_lora_adapter(adapter)
    check_adapter_fits(reader, lora, base.name)

    deltas = {pair.name: pair for pair in lora.pairs}
    merged_path = out.with_name(out.name + ".part") if ftype is None else out.with_name(out.name + ".f.part")
    writer = gguf.GGUFWriter(merged_path, gt.field_value(reader, "general.architecture"))
    alignment = gt.field_value(reader, "general.alignment")
    if alignment:
        writer.data_alignment = int(alignment)
    gt.copy_metadata(reader, writer)
    total = len(reader.tensors)
    for i, tensor in enumerate(reader.tensors):
        pair = deltas.get(tensor.name)
        if pair is None:
            gt.add_raw_tensor(writer, tensor)
            continue
        report(0.8 * i / total, f"merging {tensor.name}")
        merged = gt.dequantize(tensor) + np.float32(scale) * lora_delta(pair, lora.alpha)
        keep_f32 = tensor.tensor_type == gguf.GGMLQuantizationType.F32
        writer.add_tensor(tensor.name, merged.astype(np.float32 if keep_f32 else np.float16))
    report(0.8, "writing the merged model")
    try:
        gt.finish(writer)
        if ftype is not None:
            report(0.85, f"quantizing to {quant.upper()}")
            _quantize(merged_path, out.with_name(out.name + ".part"), ftype)
            merged_path.unlink()
        os.replace(out.with_name(out.name + ".part"), out)
    except OSError as exc:
        raise LoraMergeError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    finally:
        for leftover in (out.with_name(out.name + ".part"), out.with_name(out.name + ".f.part")):
            leftover.unlink(missing_ok=True)
    report(1.0, f"wrote {out}")
    return out


def _quantize(src: Path, dst: Path, ftype: int) -> None:
    """Quantize a GGUF model file with llama.cpp's quantizer (its chatter is kept off the console)."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = os.cpu_count() or 1
    params.allow_requantize = True  # untouched tensors of a quantized base are already quantized
    with tempfile.TemporaryFile() as sink:
        with _native_output_to(sink):
            status = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
        if status != 0:
            sink.seek(0)
            lines = [ln for ln in sink.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            detail = f": {lines[-1].strip()}" if lines else ""
            raise LoraMergeError(f"llama.cpp could not quantize the merged model{detail}.")


@contextlib.contextmanager
def _native_output_to(sink):
    """Point file descriptors 1 and 2 (where C code prints) at ``sink`` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
