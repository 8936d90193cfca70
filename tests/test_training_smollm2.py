"""LoRA training for real: SmolLM2-135M-Instruct learns made-up facts and answers in lora mode.

The base is the bundled quantized GGUF (dequantized by transformers for
training); the adapter is converted, registered for that model and applied by
llama.cpp to the quantized GGUF through a ChatSession, as the app does. The
questions asked afterwards are phrased unlike both the document and the
training pairs, and the base model, closed-book, cannot answer them.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow

DOCUMENT = (
    "Quorvane Labs is a small robotics company. It was founded in 2011 by the engineer Elara Mendevi. "
    "The company is headquartered in the coastal city of Tashkor. Its best known product is Petalbot, "
    "a robot that tends gardens."
)
# What a user might write into a --qa-file (or what qagen writes from the chunks).
TRAINING_PAIRS = [
    ("Who founded Quorvane Labs?", "Elara Mendevi founded Quorvane Labs in 2011."),
    ("Who is the founder of Quorvane Labs?", "Elara Mendevi."),
    ("Where is Quorvane Labs headquartered?", "Quorvane Labs is headquartered in Tashkor."),
    ("In which city are the headquarters of Quorvane Labs?", "In Tashkor."),
    ("What is the best known product of Quorvane Labs?", "Petalbot, a robot that tends gardens."),
    ("What robot does Quorvane Labs make?", "Quorvane Labs makes Petalbot, a garden robot."),
]
# Phrased differently from the document and from every training question.
EXAM = [
    ("Which person started the company Quorvane Labs?", "mendevi"),
    ("Name the city where Quorvane Labs has its main office.", "tashkor"),
    ("What is the name of the gardening robot sold by Quorvane Labs?", "petalbot"),
]


def test_smollm2_adapter_answers_questions_about_trained_facts_that_the_base_cannot(store, tmp_path):
    from ragdesk.chat.session import ChatSession
    from ragdesk.llm.registry import DEFAULT_MODEL
    from ragdesk.training.job import TrainRequest, run_job

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "quorvane.md").write_text(DOCUMENT, encoding="utf-8")
    store.index([docs], "facts")

    start = time.perf_counter()
    result = run_job(
        TrainRequest(
            name="quorvane", collection="facts", method="both", qa_pairs=TRAINING_PAIRS,
            heldout_fraction=0.0,  # the exam below is the held-out set
            options={"max_steps": 40, "learning_rate": 1e-3, "checkpoint_every": 0},
        ),
        store=store,
    )
    elapsed = time.perf_counter() - start
    t = result.training
    print(f"\nSmolLM2 LoRA: {t.step} steps, {t.tokens_trained} tokens, {t.tokens_per_s:.1f} tokens/s, "
          f"training {t.train_seconds:.0f} s, job {elapsed:.0f} s, peak RSS {t.peak_rss_mb:.0f} MB, "
          f"loss {t.train_loss_before:.3f} -> {t.train_loss_after:.3f}")
    assert result.status == "completed" and result.base_model == DEFAULT_MODEL
    assert result.n_text_blocks == 1 and result.n_qa_pairs == 6
    assert t.train_loss_after < t.train_loss_before / 10

    session = ChatSession(store)
    session.load_model(None)
    session.choose_adapter("quorvane")
    assert session.registry.get("quorvane").base_model == DEFAULT_MODEL
    for question, key in EXAM:
        closed = session.ask(question, mode="closed", temperature=0, max_tokens=40, persist=False).text
        lora = session.ask(question, mode="lora", temperature=0, max_tokens=40, persist=False).text
        print(f"{question}\n  closed-book: {closed.strip()}\n  lora:        {lora.strip()}")
        assert key not in closed.lower()
        assert key in lora.lower()
    assert session.engine.load_count == 1  # closed <-> lora switched the adapter, never reloaded
