"""``merge_lora`` / ``ragdesk lora merge`` on the tiny model, checked in real llama.cpp."""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner
from support.threads import threads_for_tests
from support.tiny_models import (
    WIDE_SHAPE,
    build_random_lora_gguf,
    build_tiny_model,
    llama_greedy,
    llama_last_logits,
    load_llama_adapter,
    set_llama_adapters,
)

from ragdesk.cli.lora_cmds import lora  # noqa: F401  (registers the group on the root cli)
from ragdesk.cli.root import cli
from ragdesk.llm.gguf_tensors import dequantize, field_value, open_gguf, tensor_map
from ragdesk.llm.lora_merge import LoraMergeError, merge_lora

llama_cpp = pytest.importorskip("llama_cpp")
ALL_TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output", "token_embd")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("merge-tiny"))


@pytest.fixture(scope="module")
def adapter(tiny, tmp_path_factory):
    return build_random_lora_gguf(tiny.gguf_path, tmp_path_factory.mktemp("merge-ad") / "a.gguf",
                                  targets=ALL_TARGETS, rank=4, alpha=6.0)


def _load(path):
    return llama_cpp.Llama(model_path=str(path), n_ctx=128, n_threads=threads_for_tests(None), verbose=False)


def _prompt(llm):
    return llm.tokenize(b"The capital of France is", add_bos=False)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_merged_model_equals_base_plus_adapter(tiny, adapter, tmp_path, scale):
    merged = merge_lora(tiny.gguf_path, adapter, tmp_path / "merged.gguf", scale=scale)
    base = _load(tiny.gguf_path)
    handle = load_llama_adapter(base, adapter)
    set_llama_adapters(base, [(handle, scale)])
    tokens = _prompt(base)
    want_logits, want_tokens = llama_last_logits(base, tokens), llama_greedy(base, tokens, 16)
    plain = llama_last_logits(_load(tiny.gguf_path), tokens)

    model = _load(merged)
    got_logits = llama_last_logits(model, tokens)
    assert llama_greedy(model, tokens, 16) == want_tokens
    assert np.abs(got_logits - want_logits).max() < 0.02
    assert np.abs(got_logits - plain).max() > 1.0  # the merge did change the model


def test_untouched_tensors_and_metadata_are_copied(tiny, tmp_path):
    adapter = build_random_lora_gguf(tiny.gguf_path, tmp_path / "q.gguf", targets=("attn_q",))
    merged = merge_lora(tiny.gguf_path, adapter, tmp_path / "m.gguf")
    before, after = open_gguf(tiny.gguf_path), open_gguf(merged)
    assert set(before.fields) == set(after.fields)
    for key in ("tokenizer.ggml.tokens", "tokenizer.chat_template", "llama.attention.head_count_kv"):
        assert field_value(after, key) == field_value(before, key)
    old, new = tensor_map(before), tensor_map(after)
    assert list(old) == list(new)
    for name in old:
        if ".attn_q." in name:
            assert not np.array_equal(dequantize(new[name]), dequantize(old[name]))
        else:
            assert bytes(new[name].data) == bytes(old[name].data)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_merge_into_quantized_base_keeps_other_tensors_quantized(tiny, adapter, tmp_path):
    q8 = merge_lora(tiny.gguf_path, adapter, tmp_path / "q8.gguf", scale=0.0, quant="Q8_0")
    merged = merge_lora(q8, adapter, tmp_path / "m.gguf")
    types = {t.name: t.tensor_type.name for t in open_gguf(merged).tensors}
    assert types["blk.0.attn_q.weight"] == "F16"  # touched: dequantized
    assert types["blk.0.attn_norm.weight"] == "F32"
    base = _load(q8)
    set_llama_adapters(base, [(load_llama_adapter(base, adapter), 1.0)])
    tokens = _prompt(base)
    assert llama_greedy(_load(merged), tokens, 12) == llama_greedy(base, tokens, 12)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
@pytest.mark.parametrize("quant,expected", [("Q8_0", "Q8_0"), ("q4_k_m", None)])
def test_quantized_output_loads(tiny, adapter, tmp_path, quant, expected):
    out = merge_lora(tiny.gguf_path, adapter, tmp_path / "out.gguf", quant=quant)
    types = {t.name: t.tensor_type.name for t in open_gguf(out).tensors}
    # Tiny rows (64) are too short for K-quants; llama.cpp then picks a fallback type.
    assert types["blk.0.ffn_up.weight"] not in ("F32", "F16")
    if expected:
        assert types["blk.0.ffn_up.weight"] == expected
    assert out.stat().st_size < tiny.gguf_path.stat().st_size
    model = _load(out)
    assert len(llama_greedy(model, _prompt(model), 4)) == 4
    assert not list(tmp_path.glob("*.part"))


def test_refuses_adapter_for_other_model(tiny, tmp_path):
    wide = build_tiny_model(tmp_path / "wide", seed=2, **WIDE_SHAPE)
    wrong = build_random_lora_gguf(wide.gguf_path, tmp_path / "wide-lora.gguf")
    with pytest.raises(LoraMergeError, match="does not fit"):
        merge_lora(tiny.gguf_path, wrong, tmp_path / "x.gguf")
    with pytest.raises(LoraMergeError, match="not a LoRA adapter"):
        merge_lora(tiny.gguf_path, tiny.gguf_path, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_bad_inputs_give_clear_errors(tiny, adapter, tmp_path):
    with pytest.raises(LoraMergeError, match="Unknown quantization type 'Q9_X'"):
        merge_lora(tiny.gguf_path, adapter, tmp_path / "x.gguf", quant="Q9_X")
    with pytest.raises(LoraMergeError, match="does not exist"):
        merge_lora(tiny.gguf_path, adapter, tmp_path / "no" / "x.gguf")
    with pytest.raises(LoraMergeError, match="must differ"):
        merge_lora(tiny.gguf_path, adapter, tiny.gguf_path)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 10)
    with pytest.raises(LoraMergeError, match="not a readable GGUF"):
        merge_lora(junk, adapter, tmp_path / "x.gguf")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # root can write anywhere; then there is nothing to test
            with pytest.raises(LoraMergeError, match="permission denied"):
                merge_lora(tiny.gguf_path, adapter, locked / "x.gguf")
    finally:
        locked.chmod(0o700)


def test_cli_merge(tiny, adapter, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.gguf"
    result = runner.invoke(cli, ["lora", "merge", str(tiny.gguf_path), str(adapter), "-o", str(out),
                                 "--scale", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and '"scale": 0.5' in result.output
    bad = runner.invoke(cli, ["lora", "merge", str(tiny.gguf_path), str(adapter), "-o", str(out), "--quant", "Q9"])
    assert bad.exit_code == 1
    assert "Error: Unknown quantization type" in bad.output and "Traceback" not in bad.output


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_gemma3_merge_and_tied_embedding_refusal(tmp_path):
    from support.tiny_gemma import build_tiny_gemma3

    gemma = build_tiny_gemma3(tmp_path / "gemma")
    adapter = build_random_lora_gguf(gemma.gguf_path, tmp_path / "g.gguf", targets=("attn_q", "attn_k", "ffn_down"))
    merged = merge_lora(gemma.gguf_path, adapter, tmp_path / "m.gguf")
    base = _load(gemma.gguf_path)
    set_llama_adapters(base, [(load_llama_adapter(base, adapter), 1.0)])
    model = _load(merged)
    tokens = _prompt(model)
    assert np.abs(llama_last_logits(model, tokens) - llama_last_logits(base, tokens)).max() < 0.02
    # token_embd doubles as the output matrix here: llama.cpp would abort on such an adapter.
    embd = build_random_lora_gguf(gemma.gguf_path, tmp_path / "e.gguf", targets=("token_embd",))
    with pytest.raises(LoraMergeError, match="shares with its output layer"):
        merge_lora(gemma.gguf_path, embd, tmp_path / "x.gguf")
