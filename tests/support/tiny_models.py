"""Tiny random-weight llama models for tests: an HF directory, its GGUF twin, LoRA adapters.

Everything is built with numpy, ``tokenizers``, ``safetensors`` and ``gguf`` only
(no torch), so a model takes well under a second. The HF directory loads with
``transformers.AutoModelForCausalLM`` and ``AutoTokenizer``; the GGUF file loads in
llama.cpp and computes the same function (the converter permutes Q/K rows the way
llama.cpp's ``llama`` architecture expects).

In a conftest::

    @pytest.fixture(scope="session")
    def tiny_model(tmp_path_factory):
        return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))

``build_tiny_model(dir, **WIDE_SHAPE)`` gives a model of another size, and
``support.tiny_twins.build_twin`` one of another architecture (``gemma3``, ``qwen3``...),
for tests that check a mismatched adapter is refused. The helpers at the end drive
llama.cpp directly (logits, greedy tokens, adapters) and transformers for comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragdesk.llm.gguf_tensors import (
    field_value,
    finish,
    llama_qk_permute,
    open_gguf,
    tensor_map,
    tensor_shape,
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>")
BOS, IM_START, EOS, PAD = SPECIAL_TOKENS  # eos is <|im_end|>, so chat turns stop there

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Training text for the tokenizer: plain English with digits and punctuation, so
# the merges cover words tests commonly use.
CORPUS = """\
The quick brown fox jumps over the lazy dog. A small model answers questions about
your documents. Local language models run on your own computer, without sending
your files anywhere. The knowledge store keeps chunks of text, their embeddings and
where they came from: the path, the page and the heading.
Retrieval finds the chunks closest to a question, and the model writes an answer
that cites them as [1], [2] and [3]. When no chunk is relevant, the model says so.
A LoRA adapter changes a few weights of the model; merged into the base, it makes a
standalone model. Training an adapter on your documents teaches the model their facts.
What is the capital of France? The capital of France is Paris. How many days are in
a week? There are 7 days in a week, 12 months in a year and 365 days in most years.
The river flows through the valley to the sea. Water boils at 100 degrees Celsius.
In 1969 people walked on the Moon for the first time. She said: "Hello, world!"
Questions, answers, documents, citations, settings, models and conversations.
The user asks; the assistant answers. The system prompt tells the assistant how to
behave. Tokens are generated one at a time and can be cancelled between tokens.
"""

# Two shapes: tests use "wide" to check that an adapter for one model is refused by another.
DEFAULT_SHAPE = dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128)
WIDE_SHAPE = dict(hidden=96, layers=2, heads=4, kv_heads=2, intermediate=160)


@dataclass(frozen=True)
class TinyModel:
    """The same random weights as a Hugging Face directory and as a GGUF file."""

    hf_dir: Path
    gguf_path: Path


def build_tiny_tokenizer(out_dir: Path, *, vocab_size: int = 512) -> Path:
    """Train a byte-level BPE on ``CORPUS``; write tokenizer.json and tokenizer_config.json.

    Ids 0..3 are ``SPECIAL_TOKENS``. No BOS is added when encoding (like ChatML models).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    # GPT-2 style pre-tokenization: llama.cpp's "gpt-2" pre-tokenizer uses the same regex.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    tok.save(str(out_dir / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "unk_token": None,
        "add_bos_token": False,
        "model_max_length": 256,
        "chat_template": CHATML_TEMPLATE,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    specials = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}
    (out_dir / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    return out_dir / "tokenizer.json"


def build_tiny_hf_llama(
    out_dir: Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int = 128,
    tie_embeddings: bool = False,
) -> Path:
    """Write a random-weight ``LlamaForCausalLM`` (config.json, model.safetensors, tokenizer).

    Weights are scaled ~1/sqrt(fan_in) (not HF's 0.02) so logits are decisive and greedy
    decoding is stable under float rounding; norm weights are random around 1 so a
    mis-mapped norm would show.
    """
    from safetensors.numpy import save_file

    out_dir = Path(out_dir)
    build_tiny_tokenizer(out_dir)
    vocab = json.loads((out_dir / "tokenizer.json").read_text())["model"]["vocab"]
    n_vocab = len(vocab)
    head_dim = hidden // heads
    rng = np.random.default_rng(seed)

    def linear(out_features: int, in_features: int) -> np.ndarray:
        return (rng.standard_normal((out_features, in_features)) / np.sqrt(in_features)).astype(np.float32)

    def norm(size: int) -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(size)).astype(np.float32)

    weights = {"model.embed_tokens.weight": rng.standard_normal((n_vocab, hidden)).astype(np.float32)}
    for i in range(layers):
        p = f"model.layers.{i}."
        weights[p + "input_layernorm.weight"] = norm(hidden)
        weights[p + "self_attn.q_proj.weight"] = linear(heads * head_dim, hidden)
        weights[p + "self_attn.k_proj.weight"] = linear(kv_heads * head_dim, hidden)
        weights[p + "self_attn.v_proj.weight"] = linear(kv_heads * head_dim, hidden)
        weights[p + "self_attn.o_proj.weight"] = linear(hidden, heads * head_dim)
        weights[p + "post_attention_layernorm.weight"] = norm(hidden)
        weights[p + "mlp.gate_proj.weight"] = linear(intermediate, hidden)
        weights[p + "mlp.up_proj.weight"] = linear(intermediate, hidden)
        weights[p + "mlp.down_proj.weight"] = linear(hidden, intermediate)
    weights["model.norm.weight"] = norm(hidden)
    if not tie_embeddings:
        weights["lm_head.weight"] = linear(n_vocab, hidden) * 4.0  # sharper logits
    save_file(weights, str(out_dir / "model.safetensors"), metadata={"format": "pt"})

    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": n_vocab,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": 2048,  # room for RAG prompts in chat tests
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "tie_word_embeddings": tie_embeddings,
        "bos_token_id": vocab[BOS],
        "eos_token_id": vocab[EOS],
        "pad_token_id": vocab[PAD],
        "torch_dtype": "float32",
        "use_cache": True,
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    generation = {"bos_token_id": vocab[BOS], "eos_token_id": vocab[EOS], "pad_token_id": vocab[PAD]}
    (out_dir / "generation_config.json").write_text(json.dumps(generation, indent=2))
    return out_dir


def _rope_theta(config: dict) -> float:
    params = config.get("rope_parameters") or {}
    return float(config.get("rope_theta") or params.get("rope_theta") or 10000.0)


def _gguf_vocab(hf_dir: Path) -> tuple[list[str], list[int], list[str], dict]:
    """Tokens (by id), token types, merges ("a b") and the tokenizer_config of a BPE tokenizer."""
    from gguf import TokenType

    data = json.loads((hf_dir / "tokenizer.json").read_text())
    tok_config = json.loads((hf_dir / "tokenizer_config.json").read_text())
    vocab = dict(data["model"]["vocab"])
    special = set()
    for added in data.get("added_tokens", []):
        vocab[added["content"]] = added["id"]
        if added.get("special"):
            special.add(added["content"])
    tokens = [""] * (max(vocab.values()) + 1)
    for text, idx in vocab.items():
        tokens[idx] = text
    types = [int(TokenType.CONTROL if t in special else TokenType.NORMAL) for t in tokens]
    # tokenizers >= 0.20 stores merges as pairs, older versions as "a b" strings.
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    return tokens, types, merges, tok_config


def add_tokenizer_metadata(w, hf_dir: Path, chat_template: bool) -> None:
    """Write the BPE tokenizer of ``hf_dir`` (and its chat template) as GGUF metadata."""
    tokens, types, merges, tok_config = _gguf_vocab(hf_dir)
    ids = {t: i for i, t in enumerate(tokens)}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for key, adder in (("bos_token", w.add_bos_token_id), ("eos_token", w.add_eos_token_id),
                       ("pad_token", w.add_pad_token_id)):
        if tok_config.get(key) in ids:
            adder(ids[tok_config[key]])
    w.add_add_bos_token(bool(tok_config.get("add_bos_token", False)))
    if chat_template and tok_config.get("chat_template"):
        w.add_chat_template(tok_config["chat_template"])


def tensor_adder(w, dtype: str):
    """``put(name, array)``: add a tensor as float32, or float16 for 2-D ones when dtype is f16."""

    def put(name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=np.float32)
        if dtype == "f16" and array.ndim == 2:
            array = array.astype(np.float16)
        w.add_tensor(name, array)

    return put


def hf_llama_to_gguf(hf_dir: Path, out_path: Path, *, chat_template: bool = True, dtype: str = "f32") -> Path:
    """Convert an HF llama directory (float32/float16 safetensors, BPE tokenizer) to GGUF.

    ``dtype`` is ``"f32"`` or ``"f16"`` for the 2-D weights (norms stay float32).
    """
    import gguf
    from safetensors.numpy import load_file

    hf_dir, out_path = Path(hf_dir), Path(out_path)
    config = json.loads((hf_dir / "config.json").read_text())
    weights = load_file(str(hf_dir / "model.safetensors"))
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // heads

    w = gguf.GGUFWriter(out_path, "llama")
    w.add_name(hf_dir.name)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    w.add_vocab_size(config["vocab_size"])
    w.add_context_length(config.get("max_position_embeddings", 256))
    w.add_embedding_length(hidden)
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(_rope_theta(config))
    w.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-5)))
    add_tokenizer_metadata(w, hf_dir, chat_template)
    put = tensor_adder(w, dtype)

    put("token_embd.weight", weights["model.embed_tokens.weight"])
    for i in range(config["num_hidden_layers"]):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        put(b + "attn_norm.weight", weights[p + "input_layernorm.weight"])
        put(b + "attn_q.weight", llama_qk_permute(weights[p + "self_attn.q_proj.weight"], heads))
        put(b + "attn_k.weight", llama_qk_permute(weights[p + "self_attn.k_proj.weight"], kv_heads))
        put(b + "attn_v.weight", weights[p + "self_attn.v_proj.weight"])
        put(b + "attn_output.weight", weights[p + "self_attn.o_proj.weight"])
        put(b + "ffn_norm.weight", weights[p + "post_attention_layernorm.weight"])
        put(b + "ffn_gate.weight", weights[p + "mlp.gate_proj.weight"])
        put(b + "ffn_up.weight", weights[p + "mlp.up_proj.weight"])
        put(b + "ffn_down.weight", weights[p + "mlp.down_proj.weight"])
    put("output_norm.weight", weights["model.norm.weight"])
    if "lm_head.weight" in weights:  # absent when tied: llama.cpp then reuses token_embd
        put("output.weight", weights["lm_head.weight"])
    finish(w)
    return out_path


def build_tiny_model(
    out_dir: Path, *, seed: int = 0, chat_template: bool = True, **shape: int
) -> TinyModel:
    """Build the HF model under ``out_dir/hf`` and its GGUF twin ``out_dir/tiny.gguf``.

    ``shape`` overrides ``DEFAULT_SHAPE`` (e.g. ``**WIDE_SHAPE`` for a mismatched model).
    """
    out_dir = Path(out_dir)
    hf_dir = build_tiny_hf_llama(out_dir / "hf", seed=seed, **{**DEFAULT_SHAPE, **shape})
    gguf_path = hf_llama_to_gguf(hf_dir, out_dir / "tiny.gguf", chat_template=chat_template)
    return TinyModel(hf_dir=hf_dir, gguf_path=gguf_path)


def build_random_lora_gguf(
    base_gguf: Path,
    out_path: Path,
    *,
    rank: int = 4,
    alpha: float = 8.0,
    seed: int = 0,
    targets: tuple[str, ...] = ("attn_q", "attn_v"),
    scale_of_b: float = 0.5,
) -> Path:
    """Write a llama.cpp LoRA adapter GGUF with random A and B for ``base_gguf``.

    ``targets`` are tensor kinds (``attn_q``, ``ffn_up``, ``output``...): every
    ``blk.N.<kind>.weight`` or ``<kind>.weight`` of the base gets a pair
    ``<name>.lora_a`` (rank x in) and ``<name>.lora_b`` (out x rank), numpy shapes.
    With the defaults the adapter moves the tiny model's logits by several units.
    """
    import gguf

    base = open_gguf(base_gguf)
    arch = field_value(base, "general.architecture")
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(Path(out_path), arch)
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    matched = 0
    for name, tensor in tensor_map(base).items():
        kind = name.removesuffix(".weight").split(".")[-1]
        if kind not in targets or len(tensor_shape(tensor)) != 2:
            continue
        rows, cols = tensor_shape(tensor)
        a = (rng.standard_normal((rank, cols)) / np.sqrt(cols)).astype(np.float32)
        b = (rng.standard_normal((rows, rank)) * scale_of_b).astype(np.float32)
        if kind == "token_embd":  # llama.cpp looks rows up in A: A is (vocab x rank), B (hidden x rank)
            a = (rng.standard_normal((rows, rank))).astype(np.float32)
            b = (rng.standard_normal((cols, rank)) * scale_of_b / np.sqrt(rank)).astype(np.float32)
        w.add_tensor(name + ".lora_a", a)
        w.add_tensor(name + ".lora_b", b)
        matched += 1
    if not matched:
        raise ValueError(f"no tensor of {base_gguf} matches the targets {targets}")
    finish(w)
    return Path(out_path)


# --- helpers for tests that drive llama.cpp directly ------------------------------------


def llama_last_logits(llm, tokens: list[int]) -> np.ndarray:
    """Evaluate ``tokens`` from an empty context; the logits after the last one (a copy)."""
    import llama_cpp

    llm.reset()
    llm.eval(list(tokens))
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()


def llama_greedy(llm, tokens: list[int], n: int) -> list[int]:
    """``n`` greedy (argmax) continuation tokens from a fresh context, ignoring EOS."""
    import llama_cpp

    llm.reset()
    llm.eval(list(tokens))
    out: list[int] = []
    for _ in range(n):
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        out.append(int(np.argmax(np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)))))
        llm.eval([out[-1]])
    return out


def set_llama_adapters(llm, adapters: list[tuple[object, float]]) -> None:
    """Apply ``(adapter pointer, scale)`` pairs to ``llm``'s context (empty list removes all)."""
    import ctypes

    import llama_cpp

    n = len(adapters)
    ptrs = (llama_cpp.llama_adapter_lora_p_ctypes * n)(*[a for a, _ in adapters]) if n else None
    scales = (ctypes.c_float * n)(*[s for _, s in adapters]) if n else None
    if llama_cpp.llama_set_adapters_lora(llm.ctx, ptrs, n, scales) != 0:
        raise RuntimeError("llama_set_adapters_lora failed")


def load_llama_adapter(llm, path: Path):
    """Load a LoRA GGUF for ``llm``'s model; ``None`` when llama.cpp refuses it.

    llama.cpp returns a NULL pointer object (falsy, not ``None``) on failure.
    """
    import llama_cpp

    ptr = llama_cpp.llama_adapter_lora_init(llm.model, str(path).encode())
    return ptr if ptr else None


def hf_greedy(hf_dir: Path, tokens: list[int], n: int, *, peft_dir: Path | None = None):
    """Greedy continuation and first-step logits of the HF model (optionally with a PEFT adapter)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    if peft_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, peft_dir)
    model.eval()
    seq = list(tokens)
    with torch.no_grad():
        logits = model(torch.tensor([seq])).logits[0, -1].numpy().copy()
        for _ in range(n):  # plain argmax loop: generate() would stop at or suppress EOS
            seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    return seq[len(tokens):], logits
