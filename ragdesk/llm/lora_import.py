"""Convert a PEFT LoRA adapter (Hugging Face layout) into a llama.cpp LoRA GGUF, offline.

Module names map to llama.cpp tensor names through the architecture table
(:mod:`ragdesk.llm.architectures`, ``model.layers.3.self_attn.q_proj`` ->
``blk.3.attn_q.weight``). Where llama.cpp's converter reorders the rows of Q and K
for its rotary layout (llama and its heirs), the rows of ``lora_B`` are reordered the
same way; where it splits a fused module (Granite 4's gate+up), ``lora_B`` is split
with it and ``lora_A`` shared. PEFT's per-module scaling (alpha / rank, rsLoRA's
alpha / sqrt(rank), ``rank_pattern``/``alpha_pattern``) is folded into ``B`` wherever
it differs from what llama.cpp computes from the single ``adapter.lora.alpha``.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragdesk.errors import RagdeskError
from ragdesk.llm import architectures
from ragdesk.llm import gguf_tensors as gt
from ragdesk.llm.architectures import Architecture

_LAYER_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.((?:self_attn|mlp|shared_mlp)\.\w+)$")
_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16}
# Tensors whose input is the hidden state: their lora_A must be that wide.
_READS_HIDDEN = ("attn_q", "attn_k", "attn_v", "attn_qkv", "ffn_gate", "ffn_up", "output")


class LoraImportError(RagdeskError):
    """The PEFT adapter cannot be converted (unsupported kind, wrong base, unreadable files)."""


@dataclass(frozen=True)
class BaseShape:
    """What the importer needs to know about the base model."""

    arch: Architecture
    hidden: int | None
    heads: int
    kv_heads: int
    layers: int | None
    tied_output: bool
    vocab: int | None = None


def import_peft(
    peft_dir: Path, out: Path, *, base_config_dir: Path | None = None, base_gguf: Path | None = None
) -> Path:
    """Write ``out``, a llama.cpp LoRA GGUF equivalent to the PEFT adapter in ``peft_dir``.

    The base is described by its HF ``config.json`` folder and/or its GGUF file; with
    the GGUF the adapter is also checked tensor by tensor against the model it will run on.
    """
    import gguf

    peft_dir, out = Path(peft_dir), Path(out)
    if base_config_dir is None and base_gguf is None:
        raise LoraImportError("Say which base model the adapter belongs to (its config folder or GGUF file).")
    config = _read_adapter_config(peft_dir)
    base = _base_from_gguf(Path(base_gguf)) if base_gguf else _base_from_config(Path(base_config_dir))
    weights = _read_adapter_weights(peft_dir)
    pairs = _convert(weights, config, base)
    if not os.access(out.parent if str(out.parent) else Path("."), os.W_OK):
        raise LoraImportError(f"Cannot write {out}: the folder does not exist or is not writable.")

    alpha = float(config.get("lora_alpha") or config.get("r") or 8)
    part = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(part, base.arch.name)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name, (a, b, wanted_scale) in sorted(pairs.items()):
        rank = a.shape[1] if name.startswith("token_embd") else a.shape[0]
        b = b * np.float32(wanted_scale / (alpha / rank))  # llama.cpp multiplies by alpha/rank
        writer.add_tensor(name + ".lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(name + ".lora_b", np.ascontiguousarray(b, dtype=np.float32))
    try:
        gt.finish(writer)
        if base_gguf:
            _check_against_gguf(part, Path(base_gguf))
        os.replace(part, out)
    except OSError as exc:
        raise LoraImportError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    finally:
        part.unlink(missing_ok=True)
    return out


def _read_adapter_config(peft_dir: Path) -> dict:
    path = peft_dir / "adapter_config.json"
    if not path.is_file():
        raise LoraImportError(f"{peft_dir} is not a PEFT adapter folder (no adapter_config.json).")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LoraImportError(f"Cannot read {path}: {exc}.") from None
    kind = str(config.get("peft_type", "")).upper()
    if kind != "LORA":
        raise LoraImportError(f"Only LoRA adapters can be converted; this one is {kind or 'of unknown type'}.")
    if config.get("use_dora"):
        raise LoraImportError("DoRA adapters cannot run in llama.cpp; train a plain LoRA adapter instead.")
    if config.get("lora_bias"):
        raise LoraImportError("LoRA adapters with trained biases (lora_bias) cannot run in llama.cpp.")
    if config.get("modules_to_save"):
        names = ", ".join(config["modules_to_save"])
        raise LoraImportError(f"The adapter retrains whole modules ({names}); llama.cpp adapters cannot carry them.")
    for key, what in (("alora_invocation_tokens", "Activated LoRA (aLoRA) adapters"),
                      ("target_parameters", "Adapters on raw parameters (target_parameters)"),
                      ("trainable_token_indices", "Adapters with trainable token embeddings"),
                      ("layer_replication", "Adapters with layer replication")):
        if config.get(key):
            raise LoraImportError(f"{what} cannot be converted for llama.cpp.")
    if config.get("fan_in_fan_out"):
        raise LoraImportError("Adapters with fan_in_fan_out (GPT-2 style Conv1D) are not supported.")
    return config


def _base_from_config(config_dir: Path) -> BaseShape:
    path = config_dir / "config.json" if config_dir.is_dir() else config_dir
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise LoraImportError(f"Cannot read the base model's config.json in {config_dir}.") from None
    # A model loaded from a GGUF file saves a config without "architectures" (and with a
    # gguf quantization_config); model_type is always there.
    model_type = config.get("model_type")
    arch = architectures.get(architectures.gguf_name_of_hf(config))
    if arch is None:
        raise LoraImportError(f"Base models of type {model_type!r} are not supported; adapters can be made "
                              f"for these llama.cpp architectures: {architectures.supported()}.")
    if "text_config" in config:  # multimodal (Gemma 3 4B and up): the adapter is for the language model
        config = {**config["text_config"], "model_type": model_type}
    heads = int(config["num_attention_heads"])
    return BaseShape(
        arch=arch,
        hidden=int(config["hidden_size"]),
        heads=heads,
        kv_heads=int(config.get("num_key_value_heads") or heads),
        layers=int(config["num_hidden_layers"]),
        tied_output=bool(config.get("tie_word_embeddings", model_type.startswith("gemma"))),
        vocab=config.get("vocab_size"),
    )


def _base_from_gguf(path: Path) -> BaseShape:
    try:
        reader = gt.open_gguf(path)
    except gt.GGUFReadError as exc:
        raise LoraImportError(f"Cannot read the base model: {exc}") from None
    name = gt.field_value(reader, "general.architecture")
    arch = architectures.get(name)
    if arch is None:
        raise LoraImportError(f"Base models of architecture {name!r} are not supported; adapters can be made "
                              f"for: {architectures.supported()}.")
    heads = int(gt.field_value(reader, f"{name}.attention.head_count"))
    kv_heads = gt.field_value(reader, f"{name}.attention.head_count_kv") or heads
    return BaseShape(
        arch=arch,
        hidden=int(gt.field_value(reader, f"{name}.embedding_length")),
        heads=heads,
        kv_heads=int(max(kv_heads) if isinstance(kv_heads, list) else kv_heads),  # per-layer list in some files
        layers=int(gt.field_value(reader, f"{name}.block_count")),
        tied_output="output.weight" not in gt.tensor_map(reader),
        vocab=len(gt.field_value(reader, "tokenizer.ggml.tokens") or []) or None,
    )


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """All tensors of a .safetensors file as float32 numpy arrays (bf16 included, no torch)."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
        data = fh.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise LoraImportError(f"Tensor {name} has unsupported type {info['dtype']}.")
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
        if info["dtype"] == "BF16":  # bf16 is the top half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        out[name] = array.astype(np.float32)
    return out


def _read_adapter_weights(peft_dir: Path) -> dict[str, np.ndarray]:
    path = peft_dir / "adapter_model.safetensors"
    if path.is_file():
        try:
            return read_safetensors(path)
        except (OSError, ValueError, KeyError, struct.error) as exc:
            raise LoraImportError(f"{path} is damaged ({exc}).") from None
    if (peft_dir / "adapter_model.bin").is_file():
        import torch  # old PEFT versions saved pickles; weights_only keeps loading safe

        state = torch.load(peft_dir / "adapter_model.bin", map_location="cpu", weights_only=True)
        return {k: v.float().numpy() for k, v in state.items()}
    raise LoraImportError(f"{peft_dir} has no adapter_model.safetensors.")


def _module_scale(config: dict, module: str, rank: int) -> float:
    """PEFT's scaling for one module: alpha / rank, or alpha / sqrt(rank) with rsLoRA."""
    alpha = float(config.get("lora_alpha", 8))
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.fullmatch(rf"(.*\.)?{pattern}", module):
            alpha = float(value)
            break
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def _gguf_names(module: str, base: BaseShape) -> tuple[str, ...]:
    """llama.cpp tensor names for a PEFT module path (several for a fused module), or LoraImportError."""
    if "vision" in module or "multi_modal" in module:
        raise LoraImportError(f"The adapter changes {module}, part of the image encoder; only the language "
                              "model can be adapted in llama.cpp.")
    match = _LAYER_RE.search(module)
    if match:
        layer = int(match.group(1))
        if base.layers is not None and layer >= base.layers:
            raise LoraImportError(f"The adapter has layer {layer} but the base model has only {base.layers} layers.")
        names = architectures.layer_tensors(base.arch, layer, match.group(2), base.layers or layer + 1)
        if names:
            return tuple(f"{name}.weight" for name in names)
    if module.endswith("lm_head"):
        if base.tied_output:
            raise LoraImportError("The adapter changes lm_head, which this model shares with its embeddings; "
                                  "llama.cpp cannot apply that. Train without lm_head.")
        return ("output.weight",)
    if module.endswith("embed_tokens"):
        if base.tied_output:
            # llama.cpp would also apply it to the shared output matrix, and abort.
            raise LoraImportError("The adapter changes embed_tokens, which this model shares with its output "
                                  "layer; llama.cpp cannot apply that. Train without embed_tokens.")
        return ("token_embd.weight",)
    raise LoraImportError(f"The adapter changes {module}, which has no llama.cpp equivalent in a "
                          f"{base.arch.name} model; only attention, MLP, lm_head and embedding layers are supported.")


def _convert(weights: dict[str, np.ndarray], config: dict, base: BaseShape) -> dict:
    """GGUF name -> (lora_a, lora_b, PEFT scale) in llama.cpp's layout."""
    halves: dict[str, dict[str, np.ndarray]] = {}
    for key, value in weights.items():
        if key.endswith(".base_layer.weight"):
            # PEFT also saves the untouched base weights of adapted embedding layers (in
            # case the vocabulary was resized); a resized vocabulary fails the shape checks.
            continue
        match = re.fullmatch(r"(?:base_model\.model\.)?(.+)\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B)"
                             r"(?:\.[\w-]+)?(?:\.weight)?", key)
        if not match:
            raise LoraImportError(f"Unexpected tensor {key} in the adapter (magnitude vectors, conv or bias "
                                  "adapters are not supported).")
        halves.setdefault(match.group(1), {})[match.group(2)[-1]] = value
    if not halves:
        raise LoraImportError("The adapter holds no LoRA tensors.")
    pairs = {}
    for module, ab in halves.items():
        if set(ab) != {"A", "B"}:
            raise LoraImportError(f"The adapter is damaged: {module} lacks lora_A or lora_B.")
        a, b = ab["A"], ab["B"]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise LoraImportError(f"{module} is not a linear LoRA (A {a.shape}, B {b.shape}); "
                                  "conv layers are not supported.")
        names = _gguf_names(module, base)
        if base.hidden and names[0].removesuffix(".weight").rsplit(".", 1)[-1] in _READS_HIDDEN \
                and a.shape[1] != base.hidden:
            raise LoraImportError(f"{module} expects inputs of width {a.shape[1]} but the base model's hidden "
                                  f"size is {base.hidden}; the adapter was made for another model.")
        scale = _module_scale(config, module, a.shape[0])
        if names == ("token_embd.weight",):
            if base.vocab and a.shape[1] != base.vocab:
                raise LoraImportError(f"The adapter's embeddings cover {a.shape[1]} tokens but the base model "
                                      f"has {base.vocab}; the adapter was made for another model.")
            pairs[names[0]] = (a.T, b, scale)
            continue
        if b.shape[0] % len(names):
            raise LoraImportError(f"{module} cannot be split into {len(names)} llama.cpp tensors; wrong base?")
        for name, rows in zip(names, np.split(b, len(names))):  # a fused module: same A, B split by rows
            pairs[name] = (a, _llama_rows(rows, name, module, base), scale)
    return pairs


def _llama_rows(b: np.ndarray, name: str, module: str, base: BaseShape) -> np.ndarray:
    """``lora_B`` in llama.cpp's row order: Q and K reordered where its converter reorders them."""
    if not (base.arch.permute_qk and name.endswith(("attn_q.weight", "attn_k.weight"))):
        return b
    n_head = base.heads if "attn_q" in name else base.kv_heads
    try:
        return gt.llama_qk_permute(b, n_head)
    except ValueError:
        raise LoraImportError(f"{module} does not match the base model's {n_head} heads; wrong base?") from None


def _check_against_gguf(adapter_path: Path, base_gguf: Path) -> None:
    from ragdesk.llm.lora_merge import LoraMergeError, check_adapter_fits, read_lora_adapter

    try:
        check_adapter_fits(gt.open_gguf(base_gguf), read_lora_adapter(adapter_path), base_gguf.name)
    except LoraMergeError as exc:
        raise LoraImportError(str(exc)) from None
