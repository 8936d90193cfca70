"""A tiny random-weight twin for every architecture ragdesk trains adapters for.

Each twin is a Hugging Face model (built by transformers from a tiny config, so its
modules are exactly the real model's) and a float32 GGUF of the same weights that
llama.cpp runs as that architecture. :data:`TWINS` maps every name in
``ragdesk.llm.architectures.TRAINABLE`` to its builder; an architecture added to
the table without a twin fails the tests that walk it.

llama keeps its hand-built twin (``tiny_models``); the others are built here, as
faithful miniatures of the catalogue models (head sizes, rotary bases and norm
conventions as in the real configs), so that transformers' GGUF loader, which
assumes some of them, rebuilds them exactly. The GGUF writer names tensors with the ``gguf``
package's tables and applies the conversions llama.cpp's converter applies (Q/K
rows reordered for the llama family, Gemma norms stored as 1 + w, fused gate+up
split); that it got them right is checked by comparing llama.cpp's logits with
transformers' (``test_trainable_architectures``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ragdesk.llm import architectures
from ragdesk.llm.gguf_tensors import finish, llama_qk_permute
from support.tiny_models import (
    BOS,
    EOS,
    PAD,
    TinyModel,
    add_tokenizer_metadata,
    build_tiny_model,
    build_tiny_tokenizer,
    tensor_adder,
)

SHAPE = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2, head_dim=16)


@dataclass(frozen=True)
class Recipe:
    """How to build one architecture's twin: its transformers type and what differs from the defaults."""

    arch: str
    model_type: str
    layers: int = 2
    tied: bool = True
    config: dict = field(default_factory=dict)  # extra transformers config keys
    gemma_norms: bool = False  # norms multiply by (1 + w): drawn around 0, stored as 1 + w


RECIPES = {r.arch: r for r in (
    # Qwen2.5: biases on Q, K and V; the small ones tie their embeddings.
    Recipe("qwen2", "qwen2"),
    # Qwen3: per-head RMS norms on Q and K; heads of 128 like every Qwen3 (transformers'
    # GGUF loader assumes that size).
    Recipe("qwen3", "qwen3", config=dict(head_dim=128)),
    # Gemma 2: logit soft-capping, alternating sliding windows (wider than any test prompt),
    # heads of 256 scaled by 1/sqrt(256) like the 2B.
    Recipe("gemma2", "gemma2", gemma_norms=True,
           config=dict(head_dim=256, query_pre_attn_scalar=256, sliding_window=512, attn_logit_softcapping=50.0,
                       final_logit_softcapping=30.0, hidden_activation="gelu_pytorch_tanh")),
    # Gemma 3 1B/4B: Q/K norms, local layers with their own rotary base, heads of 256.
    Recipe("gemma3", "gemma3_text", gemma_norms=True,
           config=dict(head_dim=256, query_pre_attn_scalar=256, sliding_window=512,
                       hidden_activation="gelu_pytorch_tanh",
                       rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
                                        "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0}})),
    # Phi-4-mini: fused QKV and gate+up, rotary on part of each head, tied embeddings.
    Recipe("phi3", "phi3",
           config=dict(rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                        "partial_rotary_factor": 0.5})),
    # SmolLM3: every fourth layer has no rotary embedding (NoPE); four layers show one.
    Recipe("smollm3", "smollm3", layers=4, config=dict(no_rope_layer_interval=4)),
    # Granite 4 dense (granitemoehybrid without Mamba layers or experts): fused gate+up,
    # and the four Granite multipliers set away from 1 so a lost one would show.
    Recipe("granite", "granitemoehybrid",
           config=dict(layer_types=["attention", "attention"], num_local_experts=0, position_embedding_type="rope",
                       embedding_multiplier=2.0, attention_multiplier=0.15, residual_multiplier=0.5,
                       logits_scaling=0.5, shared_intermediate_size=128, mamba_n_heads=2, mamba_d_head=64)),
)}


def build_hf_twin(recipe: Recipe, out_dir: Path, *, seed: int = 0) -> Path:
    """Write the twin's Hugging Face folder (config, float32 safetensors, the tiny tokenizer)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    out_dir = Path(out_dir)
    build_tiny_tokenizer(out_dir)
    vocab = json.loads((out_dir / "tokenizer.json").read_text())["model"]["vocab"]
    config = AutoConfig.for_model(
        recipe.model_type, vocab_size=len(vocab), num_hidden_layers=recipe.layers, max_position_embeddings=2048,
        rms_norm_eps=1e-5, tie_word_embeddings=recipe.tied, bos_token_id=vocab[BOS], eos_token_id=vocab[EOS],
        pad_token_id=vocab[PAD], **{**SHAPE, **recipe.config},
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(torch.from_numpy(_draw(rng, name, tuple(param.shape), recipe)))
    model.save_pretrained(out_dir)
    return out_dir


def _draw(rng, name: str, shape: tuple[int, ...], recipe: Recipe) -> np.ndarray:
    """Weights scaled ~1/sqrt(fan_in) so logits are decisive; norms random around 1 so a mis-mapped one shows."""
    if "norm" in name:
        spread = 0.1 * rng.standard_normal(shape)
        return (spread if recipe.gemma_norms else 1.0 + spread).astype(np.float32)
    if name.endswith("bias"):
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)
    if "embed_tokens" in name:
        # Gemma multiplies embeddings by sqrt(hidden): drawn that much smaller, they stay O(1).
        scale = 1 / np.sqrt(shape[-1]) if recipe.gemma_norms else 1.0
        return (scale * rng.standard_normal(shape)).astype(np.float32)
    scale = 4.0 if name.startswith("lm_head") else 1.0
    return (scale * rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)


def hf_twin_to_gguf(recipe: Recipe, hf_dir: Path, out_path: Path) -> Path:
    """Convert the twin's Hugging Face folder to a float32 GGUF of ``recipe.arch``."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((Path(hf_dir) / "config.json").read_text())
    weights = load_file(str(Path(hf_dir) / "model.safetensors"))
    arch = architectures.TRAINABLE[recipe.arch]
    w = gguf.GGUFWriter(Path(out_path), recipe.arch)
    _metadata(w, recipe, config)
    add_tokenizer_metadata(w, Path(hf_dir), chat_template=True)
    put = tensor_adder(w, "f32")
    names = gguf.TensorNameMap(arch.model_arch, config["num_hidden_layers"])
    heads = {"attn_q": config["num_attention_heads"], "attn_k": config["num_key_value_heads"]}
    for hf_name, array in weights.items():
        stem, suffix = hf_name.rsplit(".", 1)
        parts = stem.split(".")
        if parts[:2] == ["model", "layers"]:
            targets = architectures.layer_tensors(arch, int(parts[2]), ".".join(parts[3:]), config["num_hidden_layers"])
        else:
            targets = (names.get_name(stem),)
        assert all(targets), f"no GGUF tensor for {hf_name}"
        for target, rows in zip(targets, np.split(array, len(targets))):
            kind = target.rsplit(".", 1)[-1]
            if arch.permute_qk and kind in heads:
                rows = llama_qk_permute(rows, heads[kind])
            if recipe.gemma_norms and kind.endswith("norm"):
                rows = rows + 1.0
            put(f"{target}.{suffix}", rows)
    finish(w)
    return Path(out_path)


def _metadata(w, recipe: Recipe, config: dict) -> None:
    import gguf

    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    rope = config.get("rope_parameters") or {}
    rope = rope.get("full_attention", rope)  # Gemma 3: the global layers' (llama.cpp fixes the local ones')
    w.add_name("tiny twin")  # llama.cpp gives tokens special handling by model name ("phi3": </s>, <s>)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(config["vocab_size"])
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    kv_heads = config["num_key_value_heads"]
    # llama.cpp's converter writes Granite 4's KV head count per layer (0 for Mamba layers).
    w.add_head_count_kv([kv_heads] * config["num_hidden_layers"] if recipe.arch == "granite" else kv_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_rope_freq_base(float(rope.get("rope_theta", 10000.0)))
    w.add_rope_dimension_count(int(head_dim * rope.get("partial_rotary_factor", 1.0)))
    if recipe.arch in ("gemma2", "gemma3"):
        w.add_sliding_window(config["sliding_window"])
    if recipe.arch == "gemma2":
        w.add_attn_logit_softcapping(config["attn_logit_softcapping"])
        w.add_final_logit_softcapping(config["final_logit_softcapping"])
    if recipe.arch == "granite":
        w.add_attention_scale(config["attention_multiplier"])
        w.add_embedding_scale(config["embedding_multiplier"])
        w.add_residual_scale(config["residual_multiplier"])
        w.add_logit_scale(config["logits_scaling"])


def build_twin(arch: str, out_dir: Path, *, seed: int = 0) -> TinyModel:
    """The ``arch`` twin under ``out_dir``: ``hf/`` and ``tiny-<arch>.gguf``."""
    return TWINS[arch](Path(out_dir), seed)


def _from_recipe(arch: str) -> Callable[[Path, int], TinyModel]:
    def build(out_dir: Path, seed: int) -> TinyModel:
        recipe = RECIPES[arch]
        hf_dir = build_hf_twin(recipe, out_dir / "hf", seed=seed)
        return TinyModel(hf_dir, hf_twin_to_gguf(recipe, hf_dir, out_dir / f"tiny-{arch}.gguf"))

    return build


TWINS: dict[str, Callable[[Path, int], TinyModel]] = {
    "llama": lambda out_dir, seed: build_tiny_model(out_dir, seed=seed),
    **{arch: _from_recipe(arch) for arch in RECIPES},
}
