"""Generation through ragdesk vs raw llama-cpp-python, time to first token in rag mode, mode switches.

For each model (the built-in SmolLM2 and Gemma 3 270M, plus RAGDESK_BENCH_MODEL if set):
(1) tokens/s: the same prompt, settings and greedy sampling through ``Engine.stream``
    and through ``Llama.create_completion(stream=True)``, alternating rounds in one run;
    ratio = ragdesk / raw (target >= 0.97);
(2) time to first token of a rag-mode answer, split into retrieval, prompt evaluation
    and the rest (prompt building, budget, template);
(3) switching rag -> lora -> rag (adapter applied/removed on the live context) vs
    reloading the model.
Usage: python tests/benchmarks/bench_generation.py [--tokens 128] [--rounds 6] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from common import Timer, scratch_home

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/support

PROMPT = (
    "<|im_start|>user\nWrite a long, detailed story about a lighthouse keeper who finds a message "
    "in a bottle, with many characters and places.<|im_end|>\n<|im_start|>assistant\n"
)
# Identical sampling for both sides (llama-cpp-python's own default repeat_penalty is 1.0).
SAMPLING = dict(temperature=0.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.1)
QUESTIONS = (
    "Does vitamin D supplementation reduce the risk of fractures?",
    "Is obesity associated with a higher risk of type 2 diabetes?",
    "Do statins lower mortality in patients with heart failure?",
    "Can exercise improve symptoms of depression in older adults?",
    "Does breastfeeding protect infants against respiratory infections?",
)
PLAIN_PROMPT = "Question: Write a long story about a lighthouse keeper.\nAnswer: Once upon a time,"


def models() -> list[tuple[str, str]]:
    from ragdesk import db, paths
    from ragdesk.llm.registry import ModelRegistry

    registry = ModelRegistry(db.connect(paths.db_path()))
    chosen = [(e.name, str(registry.resolve(e.name).path)) for e in registry.builtins()]
    if os.environ.get("RAGDESK_BENCH_MODEL"):
        path = os.environ["RAGDESK_BENCH_MODEL"]
        chosen.append((Path(path).stem, path))
    return chosen


def tokens_per_second(path: str, threads: int, n_tokens: int, rounds: int, prompt: str) -> None:
    import llama_cpp

    from ragdesk.llm.engine import Engine

    engine = Engine(n_ctx=2048, n_threads=threads)
    engine.load(path)
    raw = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=threads, verbose=False, seed=1)
    ours_tps, raw_tps = [], []

    def run_raw() -> float:
        raw.reset()
        first, count = None, 0
        for _ in raw.create_completion(prompt, max_tokens=n_tokens, stream=True, **SAMPLING):
            count += 1
            if first is None:
                first = time.perf_counter()
        return (count - 1) / (time.perf_counter() - first)

    def run_ours() -> float:
        engine.llama.reset()
        first, count = None, 0
        for _ in engine.stream(prompt, max_tokens=n_tokens, **SAMPLING):
            count += 1
            if first is None:
                first = time.perf_counter()
        return engine.last_stats.tokens_per_s

    run_raw(), run_ours()  # warm up
    for _ in range(rounds):
        raw_tps.append(run_raw())
        ours_tps.append(run_ours())
    r, o = statistics.median(raw_tps), statistics.median(ours_tps)
    print(f"  decode tokens/s: raw llama-cpp-python {r:6.1f}, ragdesk Engine {o:6.1f}, ratio {o / r:.3f} (target >= 0.97)")
    engine.close()
    raw.close()


def rag_first_token(name: str, threads: int) -> None:
    from ragdesk.chat import ChatSession
    from ragdesk.llm.engine import Engine
    from ragdesk.store import KnowledgeStore

    with KnowledgeStore() as store:
        if not store.collections():
            folder = Path(os.environ["RAGDESK_HOME"]).parent / "docs"
            folder.mkdir(exist_ok=True)
            from common import write_scifact_corpus

            write_scifact_corpus(folder, 300)
            store.index([folder])
        session = ChatSession(store, engine=Engine(n_ctx=2048, n_threads=threads))
        session.load_model(name)
        # Different questions each time: a repeated one would reuse its KV cache.
        session.ask("Is smoking linked to lung cancer?", mode="rag", max_tokens=4, persist=False)  # warm up
        rows = []
        for question in QUESTIONS:
            first = []
            start = time.perf_counter()
            answer = session.ask(
                question, mode="rag", max_tokens=16, persist=False, temperature=0,
                on_token=lambda p, first=first: first or first.append(time.perf_counter()),
            )
            ttft = (first[0] - start) * 1000
            s = answer.stats
            rows.append((ttft, s["retrieval_ms"], s["prompt_ms"], s["prompt_tokens"]))
        ttft, retr, prompt_ms, n_prompt = (statistics.median(c) for c in zip(*rows))
        print(
            f"  rag time to first token {ttft:7.1f} ms = retrieval {retr:6.1f} + prompt eval {prompt_ms:7.1f} "
            f"({n_prompt:.0f} tokens) + rest {ttft - retr - prompt_ms:6.1f} ms"
        )
        session.engine.close()


def mode_switch(path: str, threads: int, tmp: Path) -> None:
    from support.tiny_models import build_random_lora_gguf

    from ragdesk.llm.engine import Engine

    adapter = build_random_lora_gguf(Path(path), tmp / f"{Path(path).stem}-lora.gguf", rank=8)
    engine = Engine(n_ctx=2048, n_threads=threads)
    engine.load(path)
    with Timer() as first:
        engine.set_adapter(adapter)  # first use loads the adapter file once
    engine.set_adapter(None)
    switches = []
    for _ in range(10):
        with Timer() as t:
            engine.set_adapter(adapter)
        switches.append(t.seconds)
        with Timer() as t:
            engine.set_adapter(None)
        switches.append(t.seconds)
    reloads = []
    for _ in range(3):
        with Timer() as t:
            engine.load(path)
        reloads.append(t.seconds)
    s, r = statistics.median(switches) * 1000, statistics.median(reloads) * 1000
    print(f"  mode switch (adapter on/off, no reload) {s:7.2f} ms vs reloading the model {r:8.1f} ms ({r / s:,.0f}x)")
    print(f"  first adapter use (reads the file)      {first.seconds * 1000:7.1f} ms")
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 2))
    args = parser.parse_args()
    root = scratch_home("generation")
    for name, path in models():
        print(f"{name} ({Path(path).name}, {args.threads} threads)")
        from ragdesk.llm.gguf_info import read_model_info

        prompt = PROMPT if read_model_info(path).chat_template else PLAIN_PROMPT
        tokens_per_second(path, args.threads, args.tokens, args.rounds, prompt)
        rag_first_token(name, args.threads)
        mode_switch(path, args.threads, root)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
