"""A tiny random-weight Gemma 3 text model: HF directory and GGUF twin (llama.cpp ``gemma3``).

A second architecture for tests: adapters made for the llama twin must be refused
by it, and the PEFT importer's Gemma rules (no Q/K permutation, embedding scale)
are checked against transformers. Built with numpy only, in milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from support.tiny_models import TinyModel, add_tokenizer_metadata, build_tiny_tokenizer, tensor_adder
from ragdesk.llm.gguf_tensors import finish

GEMMA_SHAPE = dict(hidden=64, layers=2, heads=4, kv_heads=1, head_dim=32, intermediate=128)


def build_tiny_hf_gemma3(out_dir: Path, *, seed: int = 0, hidden: int = 64, layers: int = 2, heads: int = 4,
                         kv_heads: int = 1, head_dim: int = 32, intermediate: int = 128) -> Path:
    """Write a random ``Gemma3ForCausalLM`` (text only, tied embeddings) with the tiny tokenizer.

    All layers use sliding-window attention (window 512, longer than any test prompt):
    llama.cpp makes every sixth layer global, transformers follows ``layer_types``.
    """
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    build_tiny_tokenizer(out_dir)
    vocab = json.loads((out_dir / "tokenizer.json").read_text())["model"]["vocab"]
    rng = np.random.default_rng(seed)

    def linear(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def norm(size: int) -> np.ndarray:  # Gemma norms multiply by (1 + weight)
        return (0.1 * rng.standard_normal(size)).astype(np.float32)

    weights = {"model.embed_tokens.weight": (rng.standard_normal((len(vocab), hidden)) * 1.0).astype(np.float32)}
    for i in range(layers):
        p = f"model.layers.{i}."
        weights.update({
            p + "input_layernorm.weight": norm(hidden),
            p + "self_attn.q_proj.weight": linear(heads * head_dim, hidden),
            p + "self_attn.k_proj.weight": linear(kv_heads * head_dim, hidden),
            p + "self_attn.v_proj.weight": linear(kv_heads * head_dim, hidden),
            p + "self_attn.o_proj.weight": linear(hidden, heads * head_dim),
            p + "self_attn.q_norm.weight": norm(head_dim),
            p + "self_attn.k_norm.weight": norm(head_dim),
            # Large post-norms so the layers outweigh the sqrt(hidden)-scaled embedding;
            # otherwise the tied output just repeats the last token.
            p + "post_attention_layernorm.weight": norm(hidden) + 5.0,
            p + "pre_feedforward_layernorm.weight": norm(hidden),
            p + "post_feedforward_layernorm.weight": norm(hidden) + 5.0,
            p + "mlp.gate_proj.weight": linear(intermediate, hidden),
            p + "mlp.up_proj.weight": linear(intermediate, hidden),
            p + "mlp.down_proj.weight": linear(hidden, intermediate),
        })
    weights["model.norm.weight"] = norm(hidden)
    save_file(weights, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["Gemma3ForCausalLM"],
        "model_type": "gemma3_text",
        "vocab_size": len(vocab),
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "query_pre_attn_scalar": head_dim,
        "hidden_activation": "gelu_pytorch_tanh",
        "max_position_embeddings": 256,
        "rms_norm_eps": 1e-6,
        "sliding_window": 512,
        "layer_types": ["sliding_attention"] * layers,
        "rope_parameters": {
            "full_attention": {"rope_theta": 1000000.0, "rope_type": "default"},
            "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"},
        },
        "attn_logit_softcapping": None,
        "final_logit_softcapping": None,
        "attention_bias": False,
        "tie_word_embeddings": True,
        "bos_token_id": vocab["<|endoftext|>"],
        "eos_token_id": vocab["<|im_end|>"],
        "pad_token_id": vocab["<|pad|>"],
        "dtype": "float32",
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    return out_dir


def hf_gemma3_to_gguf(hf_dir: Path, out_path: Path, *, chat_template: bool = True) -> Path:
    """Convert the tiny HF Gemma 3 to a float32 GGUF for llama.cpp's ``gemma3`` architecture."""
    import gguf
    from safetensors.numpy import load_file

    hf_dir, out_path = Path(hf_dir), Path(out_path)
    config = json.loads((hf_dir / "config.json").read_text())
    weights = load_file(str(hf_dir / "model.safetensors"))
    w = gguf.GGUFWriter(out_path, "gemma3")
    w.add_name(hf_dir.name)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(config["num_attention_heads"])
    w.add_head_count_kv(config["num_key_value_heads"])
    w.add_key_length(config["head_dim"])
    w.add_value_length(config["head_dim"])
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_rope_freq_base(config["rope_parameters"]["full_attention"]["rope_theta"])
    w.add_sliding_window(config["sliding_window"])
    add_tokenizer_metadata(w, hf_dir, chat_template)
    put = tensor_adder(w, "f32")
    # llama.cpp's Gemma norms multiply by the stored weight, HF's by (1 + weight).
    norms = {"input_layernorm": "attn_norm", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
             "post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
             "post_feedforward_layernorm": "post_ffw_norm"}
    linears = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
               "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
               "mlp.down_proj": "ffn_down"}
    put("token_embd.weight", weights["model.embed_tokens.weight"])
    for i in range(config["num_hidden_layers"]):
        for hf_name, gguf_name in norms.items():
            put(f"blk.{i}.{gguf_name}.weight", weights[f"model.layers.{i}.{hf_name}.weight"] + 1.0)
        for hf_name, gguf_name in linears.items():
            put(f"blk.{i}.{gguf_name}.weight", weights[f"model.layers.{i}.{hf_name}.weight"])
    put("output_norm.weight", weights["model.norm.weight"] + 1.0)
    finish(w)
    return out_path


def build_tiny_gemma3(out_dir: Path, *, seed: int = 0, chat_template: bool = True) -> TinyModel:
    """The tiny Gemma 3 under ``out_dir/hf`` and its GGUF twin ``out_dir/tiny-gemma3.gguf``."""
    out_dir = Path(out_dir)
    hf_dir = build_tiny_hf_gemma3(out_dir / "hf", seed=seed, **GEMMA_SHAPE)
    return TinyModel(hf_dir=hf_dir, gguf_path=hf_gemma3_to_gguf(hf_dir, out_dir / "tiny-gemma3.gguf",
                                                                 chat_template=chat_template))
