"""Reading GGUF metadata cheaply: headers only, no weights, no llama.cpp.

The header of a GGUF file (key/value metadata and the table of tensors) is
parsed straight from a memory map, so a 4 GB model is checked in milliseconds.
Every problem becomes a one-sentence ``ModelLoadError`` or ``AdapterError``:
missing file, folder, not a GGUF file, truncated download, adapter passed as a
model and the other way round, adapter made for another model.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragdesk.errors import RagdeskError

GGUF_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
# Arrays longer than this are kept as their length only (vocabularies, merges, scores).
_SMALL_ARRAY = 64

# GGUF value types: id -> struct format (scalars), strings (8) and arrays (9) are special.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class ModelLoadError(RagdeskError):
    """A model file cannot be used; ``str()`` is a sentence for the user."""


class AdapterError(RagdeskError):
    """A LoRA adapter file cannot be used with this model; ``str()`` is a sentence for the user."""


class _Corrupt(Exception):
    """Internal: the header is damaged or cut short (the caller words the message)."""


@dataclass(frozen=True)
class GGUFArray:
    """A long metadata array, kept as its element type id and length only."""

    item_type: int
    length: int


@dataclass(frozen=True)
class GGUFHeader:
    """The parsed header of a GGUF file."""

    path: Path
    version: int
    metadata: Mapping[str, Any]
    tensors: Mapping[str, tuple[int, ...]]  # name -> ggml shape ``ne`` (innermost first)
    tensor_types: Mapping[str, int]
    data_offset: int
    expected_size: int | None  # None when a tensor type is unknown to the gguf package
    size_bytes: int


@dataclass(frozen=True)
class ModelInfo:
    """What ragdesk shows and needs about a model, read without loading it."""

    path: Path
    name: str
    architecture: str
    n_ctx_train: int
    n_embd: int
    n_layer: int
    n_vocab: int
    chat_template: str | None
    size_bytes: int
    license: str | None
    file_type: str | None = None  # quantization, e.g. "Q4_K_M"
    n_params: int = 0


@dataclass(frozen=True)
class AdapterInfo:
    """A llama.cpp LoRA adapter GGUF: what it was made for and what it changes."""

    path: Path
    architecture: str
    alpha: float | None
    rank: int | None
    n_embd: int | None  # input width of the attention/FFN projections it adapts
    tensors: tuple[tuple[str, tuple[int, ...]], ...]  # (name, ggml shape) pairs
    size_bytes: int
    base_model: str | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        """Names of the base-model tensors the adapter modifies."""
        return tuple(sorted({n.rsplit(".", 1)[0] for n, _ in self.tensors if n.endswith((".lora_a", ".lora_b"))}))


# ---------------------------------------------------------------------------- parsing


class _Cursor:
    def __init__(self, buf: mmap.mmap | bytes) -> None:
        self.buf, self.pos, self.end = buf, 0, len(buf)

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > self.end:
            raise _Corrupt("cut short")
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        n = self.take("<Q")
        if self.pos + n > self.end:
            raise _Corrupt("cut short")
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.take("<Q")
        self.pos += n
        if self.pos > self.end:
            raise _Corrupt("cut short")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, length = self.take("<I"), self.take("<Q")
            if length > self.end:  # more items than bytes: garbage
                raise _Corrupt("bad array length")
            if length <= _SMALL_ARRAY and item != _ARRAY:
                return [self.value(item) for _ in range(length)]
            if item in _SCALARS:
                self.pos += struct.calcsize(_SCALARS[item]) * length
                if self.pos > self.end:
                    raise _Corrupt("cut short")
            elif item == _STRING:
                for _ in range(length):
                    self.skip_string()
            else:
                for _ in range(length):
                    self.value(item)
            return GGUFArray(item, length)
        raise _Corrupt(f"unknown value type {kind}")


def _type_sizes() -> dict[int, tuple[int, int]]:
    from gguf.constants import GGML_QUANT_SIZES

    return {int(k): v for k, v in GGML_QUANT_SIZES.items()}


def read_header(path: str | Path, *, error: type[Exception] = ModelLoadError) -> GGUFHeader:
    """Parse the header of a GGUF file; raise ``error`` with a clear sentence if it is unusable."""
    path = Path(path).expanduser()
    if not path.exists():
        raise error(f"file not found: {path}")
    if path.is_dir():
        raise error(f"{path} is a folder, not a GGUF file")
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if head[:4] != GGUF_MAGIC:
                raise error(f"{path.name} is not a GGUF file{_guess_format(head, path)}")
            if size < 24:
                raise error(f"{path.name} is truncated (only {size} bytes): download it again")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, size, error)
    except PermissionError:
        raise error(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None


def _parse(path: Path, buf: mmap.mmap, size: int, error: type[Exception]) -> GGUFHeader:
    cur = _Cursor(buf)
    cur.pos = 4
    version = cur.take("<I")
    if version in (1,) or version > 0xFFFF:
        why = "uses the old GGUF version 1" if version == 1 else "is a big-endian GGUF file"
        raise error(f"{path.name} {why}, which llama.cpp cannot read")
    try:
        n_tensors, n_kv = cur.take("<Q"), cur.take("<Q")
        if n_tensors > size or n_kv > size:
            raise _Corrupt("bad counts")
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = cur.string()
            metadata[key] = cur.value(cur.take("<I"))
        tensors: dict[str, tuple[int, ...]] = {}
        types: dict[str, int] = {}
        offsets: dict[str, int] = {}
        for _ in range(n_tensors):
            name = cur.string()
            n_dims = cur.take("<I")
            if n_dims > 8:
                raise _Corrupt("bad tensor rank")
            tensors[name] = tuple(cur.take("<Q") for _ in range(n_dims))
            types[name] = cur.take("<I")
            offsets[name] = cur.take("<Q")
    except _Corrupt:
        raise error(f"{path.name} is truncated or corrupt (its header cannot be read): download it again") from None
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        alignment = _DEFAULT_ALIGNMENT
    data_offset = -(-cur.pos // alignment) * alignment
    sizes = _type_sizes()
    expected: int | None = data_offset
    for name, shape in tensors.items():
        block = sizes.get(types[name])
        if block is None:
            expected = None
            break
        count = math.prod(shape)
        expected = max(expected, data_offset + offsets[name] + count // block[0] * block[1])
    if expected is not None and size < expected:
        raise error(f"{path.name} is truncated (expected {expected} bytes, found {size}): download it again")
    return GGUFHeader(path.resolve(), version, metadata, tensors, types, data_offset, expected, size)


def _guess_format(head: bytes, path: Path) -> str:
    """A hint for the usual mistakes: picking the safetensors or PyTorch file instead of the GGUF."""
    if head[:2] == b"PK":
        return " (it looks like a PyTorch checkpoint; convert the model to GGUF first)"
    if path.suffix == ".safetensors" or (len(head) == 8 and head[:1] != b"\x00" and head[7:8] == b"\x00"):
        return " (it looks like a safetensors file; convert the model to GGUF first)"
    if head.lstrip()[:1] in (b"<", b"{"):
        return " (it is a text/HTML file, maybe an error page saved instead of the model)"
    if not head:
        return " (the file is empty)"
    return ""


# ---------------------------------------------------------------------------- models


def _int(meta: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = meta.get(key)
    if isinstance(value, list):  # some archs store per-layer values; the first is representative
        value = value[0] if value else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _file_type_name(value: Any) -> str | None:
    if not isinstance(value, int):
        return None
    try:
        from gguf.constants import LlamaFileType

        return LlamaFileType(value).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (ValueError, ImportError):
        return None


def model_info_from_header(header: GGUFHeader) -> ModelInfo:
    """Turn a parsed header into ``ModelInfo``; refuses adapters and headers without an architecture."""
    meta, path = header.metadata, header.path
    kind = meta.get("general.type")
    if kind == "adapter":
        raise ModelLoadError(f"{path.name} is a LoRA adapter, not a model: choose it as an adapter instead")
    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ModelLoadError(f"{path.name} has no model architecture in its metadata, so it is not a usable model")
    tokens = meta.get("tokenizer.ggml.tokens")
    n_vocab = tokens.length if isinstance(tokens, GGUFArray) else len(tokens) if isinstance(tokens, list) else 0
    n_vocab = n_vocab or _int(meta, f"{arch}.vocab_size")
    template = meta.get("tokenizer.chat_template")
    licence = meta.get("general.license")
    name = meta.get("general.name")
    return ModelInfo(
        path=path,
        name=name if isinstance(name, str) and name.strip() else path.stem,
        architecture=arch,
        n_ctx_train=_int(meta, f"{arch}.context_length"),
        n_embd=_int(meta, f"{arch}.embedding_length"),
        n_layer=_int(meta, f"{arch}.block_count"),
        n_vocab=n_vocab,
        chat_template=template if isinstance(template, str) and template.strip() else None,
        size_bytes=header.size_bytes,
        license=licence if isinstance(licence, str) and licence else None,
        file_type=_file_type_name(meta.get("general.file_type")),
        n_params=sum(math.prod(s) for s in header.tensors.values()),
    )


def read_model_info(path: str | Path) -> ModelInfo:
    """Metadata of a model GGUF without loading its weights; raises ``ModelLoadError``."""
    return model_info_from_header(read_header(path, error=ModelLoadError))


# ---------------------------------------------------------------------------- adapters

# Projections whose input is the model's hidden state, so lora_a's width is n_embd.
_EMBD_INPUTS = ("attn_q", "attn_k", "attn_v", "attn_qkv", "ffn_gate", "ffn_up")


def adapter_info_from_header(header: GGUFHeader) -> AdapterInfo:
    """Turn a parsed header into ``AdapterInfo``; refuses models and non-LoRA adapters."""
    meta, path = header.metadata, header.path
    kind = meta.get("general.type")
    if kind != "adapter":
        if kind == "model" or "tokenizer.ggml.tokens" in meta:
            raise AdapterError(f"{path.name} is a model, not a LoRA adapter")
        raise AdapterError(f"{path.name} is not a LoRA adapter (its general.type is {kind!r})")
    adapter_type = meta.get("adapter.type")
    if adapter_type != "lora":
        raise AdapterError(f"{path.name} is a {adapter_type or 'unknown'} adapter, not a LoRA adapter")
    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise AdapterError(f"{path.name} does not say which model architecture it was made for")
    alpha = meta.get("adapter.lora.alpha")
    ranks, widths = set(), []
    for name, shape in header.tensors.items():
        if name.endswith(".lora_a") and len(shape) == 2:
            base = name[: -len(".lora_a")]
            if base.startswith("token_embd"):
                continue
            ranks.add(shape[1])
            if base.removesuffix(".weight").rsplit(".", 1)[-1] in _EMBD_INPUTS:
                widths.append(shape[0])
    base_model = meta.get("general.base_model.0.name") or meta.get("general.name")
    return AdapterInfo(
        path=path,
        architecture=arch,
        alpha=float(alpha) if isinstance(alpha, (int, float)) else None,
        rank=ranks.pop() if len(ranks) == 1 else None,
        n_embd=max(set(widths), key=widths.count) if widths else None,
        tensors=tuple(sorted(header.tensors.items())),
        size_bytes=header.size_bytes,
        base_model=base_model if isinstance(base_model, str) else None,
    )


def read_adapter_info(path: str | Path) -> AdapterInfo:
    """Metadata of a LoRA adapter GGUF; raises ``AdapterError``."""
    return adapter_info_from_header(read_header(path, error=AdapterError))


def check_adapter_fits(adapter: AdapterInfo, model: ModelInfo, model_tensors: Mapping[str, tuple[int, ...]]) -> None:
    """Raise ``AdapterError`` unless llama.cpp would accept ``adapter`` for this model.

    Mirrors llama.cpp's own checks (architecture, tensor names, A/B shapes) so the
    refusal comes with a sentence a user understands, before anything is loaded.
    """
    made_for = f"{adapter.architecture}" + (f" (n_embd {adapter.n_embd})" if adapter.n_embd else "")
    model_is = f"{model.architecture} (n_embd {model.n_embd})"
    mismatch = AdapterError(f"{adapter.path.name} was made for {made_for} but the model is {model_is}")
    if adapter.architecture != model.architecture:
        raise mismatch
    if adapter.n_embd and model.n_embd and adapter.n_embd != model.n_embd:
        raise mismatch
    shapes = dict(adapter.tensors)
    pairs = 0
    for name, a_shape in shapes.items():
        if name.endswith(".lora_b"):
            if name[: -len(".lora_b")] + ".lora_a" not in shapes:
                raise AdapterError(f"{adapter.path.name} is damaged: {name} has no matching lora_a tensor")
            continue
        if not name.endswith(".lora_a"):
            continue
        base = name[: -len(".lora_a")]
        b_shape = shapes.get(base + ".lora_b")
        if b_shape is None:
            raise AdapterError(f"{adapter.path.name} is damaged: {name} has no matching lora_b tensor")
        target = model_tensors.get(base)
        if target is None:
            raise AdapterError(
                f"{adapter.path.name} changes {base}, which {model.name} does not have "
                f"(was it made for a bigger model than this {model.n_layer}-layer one?)"
            )
        if len(a_shape) != 2 or len(b_shape) != 2 or len(target) < 2:
            raise AdapterError(f"{adapter.path.name} is damaged: {base} has a malformed A/B pair")
        if base.startswith("token_embd") and "output.weight" not in model_tensors:
            # With tied embeddings llama.cpp applies this pair to the output matrix too,
            # where the shapes don't fit, and aborts the whole process.
            raise AdapterError(
                f"{adapter.path.name} changes the token embeddings, which {model.name} shares with its "
                "output layer; llama.cpp cannot apply such an adapter (retrain it without embed_tokens)"
            )
        if base.startswith("token_embd"):  # llama.cpp stores this pair flipped (rows are looked up in A)
            fits = target[0] == b_shape[1] and target[1] == a_shape[1] and a_shape[0] == b_shape[0]
        else:
            fits = target[0] == a_shape[0] and target[1] == b_shape[1] and a_shape[1] == b_shape[0]
        if not fits:
            raise AdapterError(
                f"{adapter.path.name} does not fit {model.name}: {base} is {target[0]}x{target[1]} in the model "
                f"but the adapter expects {a_shape[0]}x{b_shape[1]} (made for another model size?)"
            )
        pairs += 1
    if not pairs:
        raise AdapterError(f"{adapter.path.name} contains no LoRA tensors")
