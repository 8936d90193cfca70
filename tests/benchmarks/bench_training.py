"""LoRA training throughput (tokens/s) and peak memory on this machine.

Trains the ``continued`` method on 40 SciFact abstracts for a fixed number of
steps through the same job the CLI and the GUI run (data, training, conversion
to a llama.cpp adapter, registration), once per base model, each in its own
process so peak memory is its own: the tiny random llama model the tests use,
the built-in SmolLM2-135M (its GGUF dequantized by transformers), and the model
named by RAGDESK_BENCH_HF_MODEL (an HF folder or hub id) if set.
Usage: python tests/benchmarks/bench_training.py [--steps 20] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import scratch_home, write_scifact_corpus

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
from ragdesk.store import KnowledgeStore
from ragdesk.training.job import TrainRequest, run_job
base, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if base == "tiny":
    from support.tiny_models import build_tiny_model
    import tempfile
    tiny = build_tiny_model(tempfile.mkdtemp())
    base, model = str(tiny.hf_dir), str(tiny.gguf_path)
else:
    model = None
store = KnowledgeStore()
start = time.perf_counter()
result = run_job(TrainRequest(name=f"bench-{int(time.time())}", collection="bench", base=None if base == "default" else base,
                              model=model, method="continued",
                              options={"max_steps": steps, "threads": threads, "checkpoint_every": 0}), store=store)
data = result.to_json()
print("RESULT", json.dumps({"tokens_per_s": data["tokens_per_s"], "peak_rss_mb": data["peak_rss_mb"],
                            "steps": data["step"], "wall_s": time.perf_counter() - start,
                            "loss_before": data.get("train_loss_before"), "loss_after": data.get("train_loss_after")}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    root = scratch_home("training")
    write_scifact_corpus(root / "docs", 40)
    from ragdesk.store import KnowledgeStore

    with KnowledgeStore() as store:
        store.index([root / "docs"], "bench")
    bases = ["tiny", "default"] + ([os.environ["RAGDESK_BENCH_HF_MODEL"]] if os.environ.get("RAGDESK_BENCH_HF_MODEL") else [])
    print(f"{'base model':36} {'steps':>5} {'tokens/s':>9} {'peak RSS':>9} {'whole job':>9}  loss before -> after")
    for base in bases:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, base, str(args.steps), str(args.threads), str(HERE.parent)],
            capture_output=True, text=True, env=os.environ,
        )
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{base}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(line[7:])
        name = {"tiny": "tiny random llama (tests)", "default": "SmolLM2-135M-Instruct (built-in)"}.get(base, base)
        print(f"{name:36} {r['steps']:>5} {r['tokens_per_s']:>9.0f} {r['peak_rss_mb']:>7.0f}MB {r['wall_s']:>8.0f}s  "
              f"{r['loss_before']} -> {r['loss_after']}")


if __name__ == "__main__":
    main()
