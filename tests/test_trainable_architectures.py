"""Every architecture ``lora train`` accepts trains, converts, loads in llama.cpp and answers.

Parametrised over the one architecture table (``ragdesk.llm.architectures.TRAINABLE``):
each entry's tiny twin (``support.tiny_twins``) is trained a few steps through the
real job (transformers + peft), the adapter is converted to a llama.cpp LoRA GGUF,
and llama.cpp, running it on the twin's GGUF, must compute what transformers + peft
compute. Unsupported architectures are refused before any training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.threads import threads_for_tests
from support.tiny_models import hf_greedy, llama_last_logits, load_llama_adapter, set_llama_adapters
from support.tiny_twins import TWINS, build_twin

from ragdesk import paths
from ragdesk.llm import architectures, catalogue
from ragdesk.llm.architectures import TRAINABLE
from ragdesk.training import BaseModelError, UnsupportedArchitectureError
from ragdesk.training.job import TrainRequest, run_job

llama_cpp = pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
pytest.importorskip("peft")

ARCHS = sorted(TRAINABLE)
THREADS = threads_for_tests(1)
PAIRS = [
    ("Who founded Zorblax Industries?", "Mira Quenton founded it in 1987."),
    ("What was the first product of Zorblax?", "A solar-powered kettle called the Sunbrew."),
    ("Where was Zorblax founded?", "In the town of Velloria."),
    ("When was Zorblax founded?", "In 1987."),
]
PROMPT = b"Who founded Zorblax Industries? Mira"
SENTENCEPIECE = {"gemma2", "gemma3"}  # real tokenizers are SentencePiece, the twins' byte-level BPE


def test_every_catalogue_model_can_be_trained_on():
    for entry in catalogue.CATALOGUE:
        assert entry.architecture in TRAINABLE, f"{entry.name}: lora train cannot make adapters for it"


def test_every_trainable_architecture_has_a_twin():
    assert set(TWINS) == set(TRAINABLE)


@pytest.mark.parametrize("config, expected", [
    ({"model_type": "llama"}, "llama"),
    ({"model_type": "mistral"}, "llama"),
    ({"model_type": "gemma3", "text_config": {"model_type": "gemma3_text"}}, "gemma3"),
    ({"model_type": "granitemoehybrid", "layer_types": ["attention"] * 4, "num_local_experts": 0}, "granite"),
    ({"model_type": "granitemoehybrid", "layer_types": ["mamba", "attention"], "num_local_experts": 0},
     "granitehybrid"),
    ({"model_type": "granitemoehybrid", "layer_types": ["attention"], "num_local_experts": 8}, "granitemoe"),
    ({"model_type": "gpt2"}, None),
])
def test_hf_configs_map_to_llama_cpp_architectures(config, expected):
    assert architectures.gguf_name_of_hf(config) == expected


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
@pytest.mark.parametrize("arch", ARCHS)
def test_twin_gguf_computes_what_its_hf_model_computes(arch, tmp_path):
    """The twins are right (names, Q/K order, norms, fused tensors, metadata), so the tests below mean something."""
    twin = build_twin(arch, tmp_path)
    llm = llama_cpp.Llama(model_path=str(twin.gguf_path), n_ctx=128, n_threads=THREADS, verbose=False)
    try:
        tokens = llm.tokenize(PROMPT, add_bos=False)
        cpp = llama_last_logits(llm, tokens)
    finally:
        llm.close()
    _, hf = hf_greedy(twin.hf_dir, tokens, 0)
    assert np.abs(cpp - hf).max() < 0.05 and np.abs(hf).max() > 2


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
@pytest.mark.parametrize("arch", [a for a in ARCHS if TRAINABLE[a].from_gguf])
def test_transformers_rebuilds_the_twin_from_its_gguf(arch, tmp_path):
    """Where training may start from the GGUF itself, the model transformers rebuilds is the one llama.cpp runs."""
    import torch
    from transformers import AutoModelForCausalLM

    twin = build_twin(arch, tmp_path)
    ids = torch.tensor([[5, 60, 200, 31, 7]])
    rebuilt = AutoModelForCausalLM.from_pretrained(str(twin.gguf_path.parent), gguf_file=twin.gguf_path.name)
    with torch.no_grad():
        assert torch.allclose(rebuilt(ids).logits.float(), AutoModelForCausalLM.from_pretrained(twin.hf_dir)(ids).logits,
                              atol=1e-3)


@pytest.mark.slow  # trains one adapter per architecture
@pytest.mark.parametrize("arch", ARCHS)
def test_train_convert_load_and_answer(arch, store, tmp_path):
    from ragdesk.chat.prompts import build_messages
    from ragdesk.llm.engine import Engine
    from ragdesk.llm.registry import ModelRegistry

    twin = build_twin(arch, tmp_path / "twin")
    # ragdesk's default: train on the GGUF itself; where transformers cannot rebuild it
    # faithfully, on the original weights (here the twin's HF folder) for that GGUF. The
    # twins' byte-level BPE is not the SentencePiece vocabulary transformers' GGUF loader
    # expects of a Gemma, so Gemma twins train from their HF folder too (their weights'
    # round trip is checked above; the real Gemma 3 GGUF in test_lora_import).
    from_gguf = TRAINABLE[arch].from_gguf and arch not in SENTENCEPIECE
    base = twin.gguf_path if from_gguf else twin.hf_dir
    result = run_job(TrainRequest(
        name=f"{arch}-lora", base=str(base), model=str(twin.gguf_path), method="qa", qa_pairs=PAIRS,
        heldout_fraction=0.0,
        options=dict(max_steps=10, learning_rate=2e-2, threads=THREADS, checkpoint_every=0),
    ), store=store)
    assert result.status == "completed" and result.training.train_loss_after < result.training.train_loss_before
    adapter = Path(result.adapter_path)
    assert ModelRegistry(store.conn).get(f"{arch}-lora").architecture == arch
    trained = json.loads((Path(result.run_dir) / "adapter" / "adapter_config.json").read_text())
    assert set(trained["target_modules"]) == set(TRAINABLE[arch].lora_targets) & _module_names(twin.hf_dir)

    llm = llama_cpp.Llama(model_path=str(twin.gguf_path), n_ctx=256, n_threads=THREADS, verbose=False)
    try:
        tokens = llm.tokenize(PROMPT, add_bos=False)
        plain = llama_last_logits(llm, tokens)
        handle = load_llama_adapter(llm, adapter)
        assert handle is not None, "llama.cpp refused the converted adapter"
        set_llama_adapters(llm, [(handle, 1.0)])
        adapted = llama_last_logits(llm, tokens)
        set_llama_adapters(llm, [])
    finally:
        llm.close()
    _, reference = hf_greedy(twin.hf_dir, tokens, 0, peft_dir=Path(result.run_dir) / "adapter")
    change = np.abs(adapted - plain).max()
    assert change > 0.5  # the adapter visibly changes the model...
    assert np.abs(adapted - reference).max() < change / 20  # ...exactly as it does in transformers + peft

    with Engine(n_ctx=256, n_threads=THREADS) as engine:
        engine.load(twin.gguf_path)
        engine.set_adapter(adapter)
        reply, _ = engine.generate(engine.render_chat(build_messages(PAIRS[0][0])), max_tokens=12, temperature=0)
    assert reply.strip()


def _module_names(hf_dir: Path) -> set[str]:
    from safetensors.numpy import load_file

    return {name.split(".")[-2] for name in load_file(str(hf_dir / "model.safetensors"))}


# ------------------------------------------------------------------ refused before training


def _nothing_trained(name: str) -> bool:
    return not (paths.training_dir() / name).exists() and not list(paths.adapters_dir().glob("*.gguf"))


def test_a_gguf_transformers_cannot_rebuild_is_refused_with_the_way_out(store, tmp_path):
    twin = build_twin("smollm3", tmp_path)
    with pytest.raises(BaseModelError, match=r"cannot rebuild a smollm3 model faithfully from its GGUF file; use "
                                             r"the model's original weights as the base instead.*--base .* --model "):
        run_job(TrainRequest(name="smol", base=str(twin.gguf_path), method="qa", qa_pairs=PAIRS), store=store)
    # Pulled from the catalogue, the GGUF's original weights are known and named.
    from ragdesk.llm.registry import ModelRegistry

    entry = catalogue.find("smollm3-3b")
    ModelRegistry(store.conn).add(twin.gguf_path, name=entry.name, source=entry.source)
    with pytest.raises(BaseModelError, match=r"--base HuggingFaceTB/SmolLM3-3B --model smollm3-3b\)$"):
        run_job(TrainRequest(name="smol", base="smollm3-3b", method="qa", qa_pairs=PAIRS), store=store)
    assert _nothing_trained("smol")


def _foreign_gguf(path: Path, arch: str = "falcon") -> Path:
    import gguf

    writer = gguf.GGUFWriter(path, arch)
    writer.add_embedding_length(64)
    writer.add_block_count(2)
    writer.add_vocab_size(512)
    writer.add_tensor("token_embd.weight", np.zeros((512, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_an_unsupported_architecture_is_refused_listing_the_supported_ones(store, tmp_path):
    twin = build_twin("llama", tmp_path / "llama")
    foreign = _foreign_gguf(tmp_path / "falcon.gguf")
    with pytest.raises(UnsupportedArchitectureError) as err:
        run_job(TrainRequest(name="x", base=str(twin.hf_dir), model=str(foreign), method="qa", qa_pairs=PAIRS),
                store=store)
    assert "falcon" in str(err.value) and architectures.supported() in str(err.value)
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UnsupportedArchitectureError, match="'gpt2' model; lora train supports"):
        run_job(TrainRequest(name="x", base=str(tmp_path / "gpt2"), model=str(twin.gguf_path), method="qa",
                             qa_pairs=PAIRS), store=store)
    assert _nothing_trained("x")


def test_cli_refusal_is_one_line(store, tmp_path):
    from click.testing import CliRunner

    import ragdesk.cli.train_cmds  # noqa: F401 - registers `lora train`
    from ragdesk.cli.root import cli

    twin = build_twin("llama", tmp_path / "llama")
    qa_file = tmp_path / "qa.json"
    qa_file.write_text(json.dumps([{"question": q, "answer": a} for q, a in PAIRS]))
    store.close()
    out = CliRunner().invoke(cli, ["lora", "train", "--base", str(twin.hf_dir), "--model",
                                   str(_foreign_gguf(tmp_path / "falcon.gguf")), "--method", "qa",
                                   "--qa-file", str(qa_file), "-o", "nope"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert out.output.strip().splitlines() == [
        f"Error: adapters cannot be trained for falcon models yet; lora train supports these architectures: "
        f"{architectures.supported()}"]
