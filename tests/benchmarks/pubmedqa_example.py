"""The worked example: closed-book vs RAG (vs LoRA and hybrid) on PubMedQA, with the default model.

What it does, as a user would with the CLI:
1. writes the 1,000 PubMedQA abstracts as ``<PMID>.txt`` files into a scratch folder;
2. ``ragdesk index`` them into a collection ``pubmedqa``;
3. converts the 500 labelled questions to a QA file (label = final_decision,
   answer = long_answer, gold_doc = gold_doc_id);
4. with ``--train NAME``: ``ragdesk lora train`` an adapter on the collection plus the
   questions *after* the first ``--limit`` (method ``both``; the evaluated questions stay unseen);
5. ``ragdesk eval qa`` on the first ``--limit`` questions: closed-book and rag, plus
   lora and hybrid when ``--lora ADAPTER`` (or ``--train``) is given; the HTML report goes to ``--out``;
6. prints the figures next to the published anchors (majority class 55.2%, humans 78.0%).

Usage: python tests/benchmarks/pubmedqa_example.py [--limit 100] [--lora ADAPTER | --train NAME] [--threads 1]
The data (MIT licence) is read from ../shared/data/pubmedqa and never copied into the package.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from common import PUBMEDQA, read_jsonl, scratch_home

ANCHORS = (("majority class (always \"yes\")", 0.552), ("single human annotator", 0.780))


def ragdesk(home: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "ragdesk", "--home", str(home), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ragdesk {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def write_corpus(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    docs = read_jsonl(PUBMEDQA / "corpus.jsonl")
    for doc in docs:
        (folder / f"{doc['_id']}.txt").write_text(doc["text"], encoding="utf-8")
    return len(docs)


def write_qa(path: Path) -> list[dict]:
    rows = [
        {"id": q["id"], "question": q["question"], "label": q["final_decision"], "answer": q["long_answer"],
         "gold_doc": q["gold_doc_id"]}
        for q in read_jsonl(PUBMEDQA / "qa_train.jsonl")
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


def write_training_pairs(path: Path, rows: list[dict]) -> int:
    """Question (with the eval's label instruction) -> "Yes. <long answer>", for ``lora train --qa-file``."""
    from ragdesk.evaluation.runner import label_instruction

    suffix = label_instruction(["yes", "no", "maybe"])
    lines = [
        json.dumps({"question": f"{r['question']} {suffix}", "answer": f"{r['label'].capitalize()}. {r['answer']}"})
        for r in rows
    ]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def train_adapter(home: Path, root: Path, name: str, rows: list[dict], steps: int, threads: int) -> None:
    pairs = root / "pubmedqa_train_pairs.jsonl"
    n = write_training_pairs(pairs, rows)
    t0 = time.perf_counter()
    result = json.loads(ragdesk(home, "lora", "train", "-c", "pubmedqa", "-o", name, "--method", "both",
                                "--qa-file", str(pairs), "--max-steps", str(steps), "--threads", str(threads),
                                "--json", "-q"))
    print(f"trained {name} on the collection + {n} QA pairs: {result['step']} steps in "
          f"{(time.perf_counter() - t0) / 60:.1f} min, {result['tokens_per_s']} tokens/s, held-out loss "
          f"{result['heldout_loss_before']} -> {result['heldout_loss_after']}, peak {result['peak_rss_mb']:.0f} MB",
          flush=True)


def pct(value, ci=None) -> str:
    if value is None:
        return "–"
    text = f"{100 * value:5.1f}%"
    return text + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="questions to evaluate (of 500)")
    parser.add_argument("--lora", help="LoRA adapter (name or GGUF path) for the lora and hybrid modes")
    parser.add_argument("--train", metavar="NAME", help="first train an adapter NAME (see step 4), then use it")
    parser.add_argument("--train-steps", type=int, default=160, help="training steps for --train")
    parser.add_argument("--model", help="model (default: the built-in SmolLM2-135M-Instruct)")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1 is steadiest on a busy box)")
    parser.add_argument("--max-tokens", type=int, default=64, help="longest answer; the label comes first")
    parser.add_argument("--out", type=Path, help="folder for the report (default: inside the work folder)")
    parser.add_argument("--workdir", type=Path, help="reuse this folder (corpus, data folder, index) between runs")
    args = parser.parse_args()

    if args.workdir:
        import os

        from ragdesk import paths

        root = args.workdir.resolve()
        os.environ[paths.ENV_HOME] = str(root / "home")
        paths.set_home(None)
    else:
        root = scratch_home("pubmedqa")
    home = root / "home"
    from ragdesk.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    Settings(n_threads=args.threads).save()
    out = args.out or root / "report"

    t0 = time.perf_counter()
    n_docs = write_corpus(root / "corpus")
    index = json.loads(ragdesk(home, "index", str(root / "corpus"), "-c", "pubmedqa", "--json"))
    index_s = time.perf_counter() - t0
    print(f"indexed {n_docs} abstracts ({index['added']} new, {index['chunks_added']} chunks) in {index_s:.0f} s "
          f"({n_docs / index_s:.1f} abstracts/s)", flush=True)

    rows = write_qa(root / "pubmedqa_qa.jsonl")
    sample = rows[: args.limit]
    if args.train:
        train_adapter(home, root, args.train, rows[args.limit :], args.train_steps, args.threads)
        args.lora = args.train
    modes = "rag,lora,hybrid" if args.lora else "rag"
    extra = (["--lora", args.lora] if args.lora else []) + (["--model", args.model] if args.model else [])
    t1 = time.perf_counter()
    result = json.loads(ragdesk(home, "eval", "qa", "--qa", str(root / "pubmedqa_qa.jsonl"), "-c", "pubmedqa",
                                "--modes", modes, "--limit", str(args.limit), "--max-tokens", str(args.max_tokens),
                                "--report", str(out), "--json", *extra))
    eval_s = time.perf_counter() - t1

    counts = Counter(r["label"] for r in sample)
    print(f"\nPubMedQA (PQA-L), first {len(sample)} of {len(rows)} questions "
          f"(labels: {dict(counts)}), model {result['model']}, {args.max_tokens} answer tokens max, "
          f"{eval_s / 60:.1f} min\n")
    head = f"{'mode':<10}{'label accuracy [95% CI]':<28}{'unparsed':>9}{'token F1':>10}{'hit@' + str(result['k']):>8}" \
           f"{'MRR':>7}{'cit. prec.':>11}{'no cite':>9}{'p50 s':>8}{'tok/s':>7}"
    print(head)
    print("-" * len(head))
    for mode, m in result["modes"].items():
        print(f"{mode:<10}{pct(m['label_accuracy'], m['label_accuracy_ci']):<28}{m['label_unparsed']:>9}"
              f"{m['token_f1']:>10.3f}{pct(m['hit_at_k']):>8}{(m['mrr'] or 0):>7.3f}"
              f"{pct(m['citation_precision']):>11}{pct(m['no_citation_share']):>9}"
              f"{m['latency_p50_ms'] / 1000:>8.2f}{m['tokens_per_s']:>7.1f}")
    majority = max(counts.values()) / len(sample)
    print(f"{'anchors':<10}majority class in this sample {pct(majority)}; published: "
          + "; ".join(f"{name} {pct(v)}" for name, v in ANCHORS))
    print(f"\nreport: {out / 'report.html'}")


if __name__ == "__main__":
    main()
