"""The first answer is quick: stages reported while it is prepared, the fixed prompt prefix evaluated once.

Real llama.cpp on the tiny random GGUF, over a real knowledge store. The reuse is
asserted with token counts (ours and llama.cpp's own performance counters), never timings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
from support.threads import threads_for_tests

from ragdesk.chat import ChatSession
from ragdesk.chat.progress import Stage, reading_detail
from ragdesk.llm.engine import Engine
from ragdesk.llm.idle_cores import IdleCores

KETTLE = "The kettle must be descaled every six weeks with citric acid. " * 3
BREAD = "Sourdough needs a starter of flour and water fed daily, then a long cold proof."


@pytest.fixture
def session(store, tiny_model, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.txt").write_text(KETTLE)
    (docs / "bread.txt").write_text(BREAD)
    store.index([docs])
    store.settings.relevance_threshold = 0.0  # both documents are sources, whatever the random model
    engine = Engine(n_ctx=2048, n_threads=threads_for_tests(1))
    s = ChatSession(store, engine=engine)
    s.load_model(str(tiny_model.gguf_path))
    yield s
    engine.close()


def prompt_evaluated(engine) -> int:
    """Prompt tokens llama.cpp decoded in batches since the last reset of its counters."""
    import llama_cpp

    return int(llama_cpp.llama_perf_context(engine.llama.ctx).n_p_eval)


def reset_counters(engine) -> None:
    import llama_cpp

    llama_cpp.llama_synchronize(engine.llama.ctx)  # a decode still queued is counted at the next sync
    llama_cpp.llama_perf_context_reset(engine.llama.ctx)


def test_stages_come_in_order_with_the_real_counts_before_the_first_token(session):
    events: list[object] = []
    answer = session.ask(
        "How often is the kettle descaled?", max_tokens=8, temperature=0,
        on_progress=events.append, on_token=lambda piece: events.append(piece),
    )
    stages = [e for e in events if isinstance(e, Stage)]
    names = [s.name for s in stages]
    assert names[:2] == ["searching", "reading"], names
    n = len(answer.retrieved)
    assert n == 2
    tokens = sum(session.engine.count_tokens(h.text) for h in answer.retrieved)
    assert stages[1].detail == f"Reading {n} sources, {tokens:,} tokens…"
    assert all(a.elapsed <= b.elapsed for a, b in zip(stages, stages[1:]))
    if answer.stats["completion_tokens"]:  # "Writing…" comes with the first piece, before it
        first_text = next(i for i, e in enumerate(events) if isinstance(e, str))
        assert isinstance(events[first_text - 1], Stage) and events[first_text - 1].name == "writing"
        assert names == ["searching", "reading", "writing"]


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_closed_mode_reads_the_question_and_a_cold_engine_says_it_is_loading(session, tiny_model):
    session.engine.close()
    stages: list[Stage] = []
    answer = session.ask("Say hello.", mode="closed", max_tokens=4, on_progress=stages.append)
    assert [s.name for s in stages][:2] == ["loading", "reading"]
    assert stages[1].detail == f"Reading the question, {answer.stats['prompt_tokens']:,} tokens…"
    assert reading_detail(1, 1050, 0) == "Reading 1 source, 1,050 tokens…"


def test_the_fixed_prefix_is_evaluated_once_and_reused_by_every_question(session):
    engine = session.engine
    prefix = session.fixed_prefix_tokens("rag")
    assert len(prefix) > 40  # system prompt and worked example: dozens of tokens
    reset_counters(engine)
    assert session.warm_up() == {"searched": True, "primed_tokens": len(prefix)}
    assert prompt_evaluated(engine) == len(prefix)
    for question in ("How often is the kettle descaled?", "What does sourdough need?", "What acid is used?"):
        reset_counters(engine)
        answer = session.ask(question, max_tokens=4, temperature=0)  # a new conversation each time
        stats = answer.stats
        assert stats["cached_prompt_tokens"] >= len(prefix)
        # llama.cpp's own counter agrees: only what follows the shared prefix was evaluated.
        assert prompt_evaluated(engine) == stats["prompt_tokens"] - stats["cached_prompt_tokens"]
        assert prompt_evaluated(engine) <= stats["prompt_tokens"] - len(prefix)


def test_priming_after_an_adapter_change_evaluates_the_prefix_again(session, tiny_lora):
    session.warm_up()
    assert session.warm_up()["primed_tokens"] == 0  # already cached: nothing to do
    session.choose_adapter(str(tiny_lora))
    assert session.warm_up("hybrid")["primed_tokens"] == len(session.fixed_prefix_tokens("hybrid"))


def test_prompt_evaluation_threads_are_a_setting(tiny_model):
    with Engine(n_ctx=256, n_threads=1, n_threads_batch=2) as engine:
        engine.load(tiny_model.gguf_path)
        assert engine.llama.context_params.n_threads_batch == 2
        engine.generate("The kettle", max_tokens=2, temperature=0)
        assert engine.last_stats.prompt_threads == 2


@contextmanager
def every_core_busy():
    """One spinning process per logical CPU: the machine as another program's build leaves it."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def test_idle_cores_see_other_programs_load_and_not_the_engines_own():
    cores = os.cpu_count() or 1
    with every_core_busy():
        meter = IdleCores()
        time.sleep(0.7)
        assert meter.idle() < 0.75 * cores
        time.sleep(0.7)
        assert meter.threads(1, cores) == 1  # every core taken: the decode threads only
        time.sleep(0.7)
        meter.note_busy(10.0 * cores)  # the same load, had it been the engine's own threads
        assert meter.threads(1, cores) == cores


def test_prompts_on_a_busy_machine_use_the_decode_threads(tiny_model):
    with Engine(n_ctx=256, n_threads=1) as engine:  # prompt threads chosen per prompt
        engine.load(tiny_model.gguf_path)
        assert engine.n_threads_batch is None
        time.sleep(0.7)  # long enough for this prompt to close the idle window: the next sees only busy cores
        engine.generate("The kettle", max_tokens=2, temperature=0)
        assert 1 <= engine.last_stats.prompt_threads <= (os.cpu_count() or 1)
        with every_core_busy():
            time.sleep(0.7)
            engine.generate("The kettle must", max_tokens=2, temperature=0)
            assert engine.last_stats.prompt_threads == 1
