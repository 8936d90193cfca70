"""Indexing throughput and peak memory, ``ragdesk index`` against raw PyTorch encode; re-indexing.

(1) Throughput: N SciFact abstracts as files. The same chunks (ragdesk's chunker)
    are embedded by a bare ``SentenceTransformer.encode`` call (PyTorch fp32, model
    already loaded, batch 32), and the folder is indexed by the whole ``ragdesk
    index`` command in a new process (start, model load, walk, read, extract,
    chunk, embed, store), alternately, in one run. Ratio = raw encode time /
    command time (target >= 2.0; 1.04 before the int8 ONNX engine). With
    ``--before PATH`` (a checkout of an earlier commit) that tree's command runs
    in the same rounds, so the comparison is fair on a loaded machine. The peak
    memory (max RSS) of each command is printed too: with the default 5,000 files
    that is the "peak memory while indexing 5,000 files" figure.
    The int8 ONNX copy is made first (a first-use cost, timed separately) in a
    cache shared by the rounds.
(2) Re-index: an already indexed folder of 5,000 files is indexed again by the real
    ``ragdesk index`` command in a new process (target < 2 s; the embedding model
    must not load).
    ``--skip-raw`` runs the commands alone (their times and peak memory).
    ``--sentence-windows`` adds ``ragdesk index --sentence-windows`` (the same tree,
    a collection with sentence windows on) to the rounds.
Usage: python tests/benchmarks/bench_index.py [--docs 5000] [--rounds 1] [--before PATH]
       [--files 5000] [--skip-throughput] [--skip-reindex] [--skip-raw] [--sentence-windows]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, Timer, scratch_home, write_scifact_corpus


def run_index(
    tree: Path, home: Path, folder: Path, cache: Path, options: tuple[str, ...] = ()
) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of ``ragdesk index -q folder`` run from ``tree`` in a new process.

    The peak is the child's own VmHWM, read from /proc while it runs: its
    ``ru_maxrss`` from wait4 also counts this process's memory, which the child
    shares between fork and exec (this process holds the PyTorch model).
    """
    env = dict(os.environ, PYTHONPATH=str(tree), RAGDESK_MODEL_CACHE=str(cache), TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "ragdesk", "--home", str(home), "index", "-q", *options, str(folder)]
    peak_kb = 0
    errors = tempfile.TemporaryFile()  # not a pipe: nobody reads it while the child runs
    with Timer() as t:
        proc = subprocess.Popen(cmd, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=errors)
        while True:
            peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))
            pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        errors.seek(0)
        raise SystemExit(f"{cmd} failed in {tree}: {errors.read().decode()[-2000:]}")
    return t.seconds, peak_kb / 1024


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set so far (kB), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def throughput(
    root: Path, docs: int, rounds: int, before: Path | None, raw_encode: bool = True, windows: bool = False
) -> None:
    from sentence_transformers import SentenceTransformer

    from ragdesk.embedder import Embedder, resolve_model_path
    from ragdesk.ingest import Chunker, IngestRules, extract, load, walk
    from ragdesk.settings import Settings

    folder = root / "abstracts"
    write_scifact_corpus(folder, docs)
    settings = Settings()
    chunker = Chunker(Embedder(settings.embedding_model).tokenizer(), settings.chunk_tokens, settings.chunk_overlap)
    rules = IngestRules.from_settings(settings)
    texts = [c.text for entry in walk([folder], rules) for c in chunker.chunk(extract(load(entry, rules)))]
    cache = root / "model-cache"
    small = root / "small"
    write_scifact_corpus(small, 5)
    first_use, _ = run_index(REPO, root / "warm-home", small, cache)  # makes the int8 copy
    if raw_encode:
        model = SentenceTransformer(resolve_model_path(settings.embedding_model), device="cpu")
        model.encode(texts[:64])  # warm up
    trees = (
        {"after": (REPO, ())}
        | ({"windows": (REPO, ("--sentence-windows",))} if windows else {})
        | ({"before": (before, ())} if before else {})
    )
    times: dict[str, list[float]] = {"raw": []} | {k: [] for k in trees}
    peaks: dict[str, list[float]] = {k: [] for k in trees}
    for r in range(rounds):
        if raw_encode:
            with Timer() as t:
                model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            times["raw"].append(t.seconds)
        for name, (tree, options) in (reversed(trees.items()) if r % 2 else trees.items()):
            seconds, peak = run_index(tree, root / f"home-{name}-{r}", folder, cache, options)
            times[name].append(seconds)
            peaks[name].append(peak)
            print(f"  round {r + 1}: {name:6} {seconds:6.1f} s  peak {peak:5.0f} MiB", flush=True)
    print(f"throughput: {docs} files, {len(texts)} chunks, {rounds} round(s), interleaved")
    print(f"  first use (export + int8 quantisation, once per model): {first_use:.1f} s")
    raw = min(times["raw"], default=None)
    if raw is not None:
        print(f"  raw SentenceTransformer.encode (PyTorch): {raw:6.1f} s  ({len(texts) / raw:6.1f} chunks/s)")
    for name in trees:
        best = min(times[name])
        ratio = f"ratio raw/command = {raw / best:.2f}  " if raw is not None else ""
        print(f"  ragdesk index, whole command ({name:7}): {best:6.1f} s  ({len(texts) / best:6.1f} chunks/s)  "
              f"{ratio}peak memory {max(peaks[name]):.0f} MiB")
    if raw is not None:
        print("  target: ratio >= 2.0 (after)")


def reindex(root: Path, files: int) -> None:
    folder = root / "many"
    folder.mkdir()
    for i in range(files):
        sub = folder / f"dir{i // 500:02}"
        sub.mkdir(exist_ok=True)
        (sub / f"note{i:05}.txt").write_text(f"Note {i}: the keeper logged wind force {i % 12} and {i % 7} ships.")
    home = root / "reindex-home"
    cmd = [sys.executable, "-m", "ragdesk", "--home", str(home), "index", "-q", str(folder)]
    with Timer() as first:
        subprocess.run(cmd, check=True, capture_output=True)
    times = []
    for _ in range(3):
        with Timer() as t:
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        times.append(t.seconds)
    assert f"{files} unchanged" in out, out
    print(f"re-index: {files} files (first index {first.seconds:.0f} s)")
    print(f"  unchanged re-index, whole command: best {min(times):.2f} s, worst {max(times):.2f} s  (target < 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", type=Path, help="an earlier checkout to run side by side")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-reindex", action="store_true")
    parser.add_argument("--skip-raw", action="store_true",
                        help="run the commands only (their times and peak memory), not the raw encode")
    parser.add_argument("--sentence-windows", action="store_true",
                        help="also run ragdesk index --sentence-windows in the same rounds")
    args = parser.parse_args()
    root = scratch_home("index")
    try:
        if not args.skip_throughput:
            throughput(root, args.docs, args.rounds, args.before.resolve() if args.before else None,
                       raw_encode=not args.skip_raw, windows=args.sentence_windows)
        if not args.skip_reindex:
            reindex(root, args.files)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
