"""The tiny test models are what other tests rely on: prove they are faithful.

The HF directory and the GGUF twin must compute the same function in transformers
and llama.cpp (this checks the converter, Q/K permutation included), the chat
template must work, and the random adapters must load and change the logits.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.threads import threads_for_tests
from support.tiny_models import (
    WIDE_SHAPE,
    build_random_lora_gguf,
    build_tiny_model,
    hf_greedy,
    llama_greedy,
    llama_last_logits,
    load_llama_adapter,
    set_llama_adapters,
)

from ragdesk.llm.gguf_tensors import field_value, open_gguf

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def llm(tiny):
    llama_cpp = pytest.importorskip("llama_cpp")
    model = llama_cpp.Llama(model_path=str(tiny.gguf_path), n_ctx=256, n_threads=threads_for_tests(None), verbose=False)
    yield model
    model.close()


def test_build_is_deterministic(tmp_path):
    one = build_tiny_model(tmp_path / "one", seed=3)
    two = build_tiny_model(tmp_path / "two", seed=3)
    other = build_tiny_model(tmp_path / "three", seed=4)
    assert one.gguf_path.read_bytes() == two.gguf_path.read_bytes()
    assert one.gguf_path.read_bytes() != other.gguf_path.read_bytes()


def test_gguf_metadata(tiny, tmp_path):
    reader = open_gguf(tiny.gguf_path)
    assert field_value(reader, "general.architecture") == "llama"
    assert field_value(reader, "tokenizer.ggml.model") == "gpt2"
    assert field_value(reader, "llama.embedding_length") == 64
    assert "<|im_start|>" in field_value(reader, "tokenizer.chat_template")
    bare = build_tiny_model(tmp_path, chat_template=False)
    assert field_value(open_gguf(bare.gguf_path), "tokenizer.chat_template") is None


def test_llama_cpp_tokenizes_like_hf(tiny, llm):
    from transformers import AutoTokenizer

    hf_tok = AutoTokenizer.from_pretrained(tiny.hf_dir)
    for text in (PROMPT, "Hello, world! 1969 days", "  two  spaces\nand a line"):
        assert llm.tokenize(text.encode(), add_bos=False) == hf_tok(text)["input_ids"]
    chat = "<|im_start|>user\nHi<|im_end|>"
    assert llm.tokenize(chat.encode(), add_bos=False, special=True) == hf_tok(chat)["input_ids"]
    assert llm.token_eos() == hf_tok.convert_tokens_to_ids("<|im_end|>")


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_hf_and_gguf_agree(tiny, llm):
    tokens = llm.tokenize(PROMPT.encode(), add_bos=False)
    hf_tokens, hf_logits = hf_greedy(tiny.hf_dir, tokens, 12)
    logits = llama_last_logits(llm, tokens)
    # llama.cpp keeps its KV cache in f16, hence the tolerance; the logits span ~±10.
    assert np.abs(logits - hf_logits).max() < 0.05
    assert llama_greedy(llm, tokens, 12) == hf_tokens


def test_generates_and_chats(llm):
    out = llm.create_completion(PROMPT, max_tokens=16, temperature=0)
    assert out["usage"]["completion_tokens"] >= 1
    reply = llm.create_chat_completion([{"role": "user", "content": "Hi there"}], max_tokens=8, temperature=0)
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["usage"]["prompt_tokens"] == len(
        llm.tokenize(b"<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", add_bos=False, special=True)
    )


def test_random_adapter_changes_logits_and_scale_zero_restores(tiny, llm, tmp_path):
    adapter_path = build_random_lora_gguf(tiny.gguf_path, tmp_path / "a.gguf", targets=("attn_q", "attn_v", "ffn_up"))
    tokens = llm.tokenize(PROMPT.encode(), add_bos=False)
    base = llama_last_logits(llm, tokens)
    adapter = load_llama_adapter(llm, adapter_path)
    assert adapter is not None
    try:
        set_llama_adapters(llm, [(adapter, 1.0)])
        assert np.abs(llama_last_logits(llm, tokens) - base).max() > 1.0
        set_llama_adapters(llm, [(adapter, 0.0)])
        assert np.array_equal(llama_last_logits(llm, tokens), base)
    finally:
        set_llama_adapters(llm, [])


def test_adapter_for_other_shape_is_refused(llm, tmp_path):
    wide = build_tiny_model(tmp_path / "wide", seed=1, **WIDE_SHAPE)
    wide_adapter = build_random_lora_gguf(wide.gguf_path, tmp_path / "wide.gguf")
    assert load_llama_adapter(llm, wide_adapter) is None


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_gemma3_twin_agrees_and_refuses_llama_adapters(tmp_path, llm):
    from support.tiny_gemma import build_tiny_gemma3

    llama_cpp = pytest.importorskip("llama_cpp")
    gemma = build_tiny_gemma3(tmp_path / "gemma")
    assert field_value(open_gguf(gemma.gguf_path), "general.architecture") == "gemma3"
    model = llama_cpp.Llama(model_path=str(gemma.gguf_path), n_ctx=128, n_threads=threads_for_tests(None), verbose=False)
    tokens = model.tokenize(PROMPT.encode(), add_bos=False)
    hf_tokens, hf_logits = hf_greedy(gemma.hf_dir, tokens, 6)
    assert np.abs(llama_last_logits(model, tokens) - hf_logits).max() < 0.05
    assert llama_greedy(model, tokens, 6) == hf_tokens
    # Same tensor names and shapes as the llama twin's attn_q, but another architecture.
    llama_adapter = build_random_lora_gguf(build_tiny_model(tmp_path / "llama").gguf_path, tmp_path / "l.gguf",
                                           targets=("ffn_up",))
    assert load_llama_adapter(model, llama_adapter) is None
    gemma_adapter = build_random_lora_gguf(gemma.gguf_path, tmp_path / "g.gguf", targets=("ffn_up",))
    assert load_llama_adapter(model, gemma_adapter) is not None
    model.close()
