"""Desktop app figures: cold start, event-loop latency under load, idle memory. Prints a table.

(1) Cold start: a new process runs ``ragdesk.app.main`` (the real ``ragdesk-gui``
    path) offscreen; a zero-delay QTimer queued before it fires at the first
    event-loop iteration after ``show()``, checks the window is visible and
    reports. Measured from just before the process is spawned (interpreter start
    included) to that moment. Median of ``--runs`` (target <= 1.5 s).
(2) Event-loop latency: a QTimer firing every 10 ms in the real window records
    how late each tick is while the window's real IndexWorker indexes ``--files``
    files (SciFact abstracts, or generated text without the shared data), and
    while its real ModelWorker streams RAG answers from the built-in SmolLM2
    with the default settings (threads: half the CPUs) (target p99 <= 50 ms). The first index loads torch and the embedding model
    on the worker; that phase is reported on its own line.
(3) Idle memory (RSS, psutil) of the shown window: no model; the built-in
    SmolLM2 loaded; and after an index/search has loaded the embedding model.
Each part runs in its own process with a scratch data folder.
Usage: python tests/benchmarks/bench_gui.py [--runs 5] [--files 5000] [--answers 3] [--only cold,latency,memory]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import SCIFACT, percentile, read_jsonl, scratch_home

HERE = Path(__file__).resolve()
QUESTIONS = (
    "What do these studies say about vitamin D and bone health?",
    "Summarise what is known about the role of microRNA in cancer.",
    "How does obesity affect the risk of type 2 diabetes?",
)


def child_env(home: Path) -> dict:
    return {**os.environ, "RAGDESK_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_child(mode: str, home: Path, *extra: str, timeout: int = 1800) -> dict:
    out = subprocess.run([sys.executable, str(HERE), "--child", mode, *extra], env=child_env(home),
                         capture_output=True, text=True, timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------ children


def child_cold() -> None:
    """Run the real app entry point; report at the first event-loop turn after show()."""
    from ragdesk.ui.qt import QApplication, QTimer

    app = QApplication(["ragdesk"])  # main() reuses this instance

    def probe() -> None:
        shown = [w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow" and w.isVisible()]
        heavy = [m for m in ("torch", "sentence_transformers", "transformers", "llama_cpp") if m in sys.modules]
        print(json.dumps({"t_shown": time.time(), "visible": bool(shown), "heavy": heavy}), flush=True)
        for w in shown:
            w.close()
        app.quit()

    QTimer.singleShot(0, probe)  # queued now, runs once main() has shown the window and entered exec()
    from ragdesk.app import main

    main([])


def _loop_until(cond, timeout: float, poll_ms: int = 20) -> bool:
    """Run a real event loop until ``cond()`` is true (or the timeout)."""
    from ragdesk.ui.qt import QtCore, QTimer

    loop = QtCore.QEventLoop()
    deadline = time.monotonic() + timeout
    timer = QTimer()
    timer.timeout.connect(lambda: (cond() or time.monotonic() > deadline) and loop.quit())
    timer.start(poll_ms)
    if not cond():
        loop.exec()
    timer.stop()
    return bool(cond())


class LatencyProbe:
    """A 10 ms precise timer; each tick's lateness (interval beyond 10 ms) with its time."""

    def __init__(self, interval_ms: int = 10) -> None:
        from ragdesk.ui.qt import Qt, QTimer

        self.interval = interval_ms / 1000
        self.samples: list[tuple[float, float]] = []  # (time, lateness in ms)
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.samples.append((now, max(0.0, (now - self.last - self.interval) * 1000)))
        self.last = now

    def start(self) -> None:
        self.last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def between(self, start: float, end: float) -> list[float]:
        return [ms for t, ms in self.samples if start <= t <= end]


def _stats(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values) if values else float("nan")}


def write_corpus(folder: Path, files: int) -> str:
    """``files`` small text files: SciFact abstracts when available, else generated prose."""
    folder.mkdir(parents=True, exist_ok=True)
    if (SCIFACT / "corpus.jsonl").exists():
        docs = read_jsonl(SCIFACT / "corpus.jsonl")[:files]
        for doc in docs:
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}", encoding="utf-8")
        if len(docs) == files:
            return "SciFact abstracts"
    words = "river valley glacier survey bakery starter flour water record season lighthouse harbour".split()
    for i in range(len(list(folder.iterdir())), files):
        text = " ".join(words[(i * 7 + j * 3) % len(words)] for j in range(180))
        (folder / f"gen-{i:05d}.txt").write_text(f"Note {i}\n\n{text}.", encoding="utf-8")
    return "generated text"


def child_latency(files: int, answers: int) -> None:
    from ragdesk.llm.registry import DEFAULT_MODEL
    from ragdesk.settings import Settings
    from ragdesk.ui.main_window import create_main_window
    from ragdesk.ui.qt import QApplication

    corpus = Path(os.environ["RAGDESK_HOME"]).parent / "corpus"
    source = write_corpus(corpus, files)
    _app = QApplication(["ragdesk"])  # kept alive for the whole run
    settings = Settings(max_tokens=160, temperature=0.0, top_k=3)  # default threads: half the CPUs
    settings.save()
    window = create_main_window(settings)
    window.show()
    c = window.controller
    assert _loop_until(lambda: c.availability is not None and c.catalog_known, 60)
    probe = LatencyProbe()
    done: list = []
    c.jobDone.connect(done.append)
    first_embed: list[float] = []
    c.jobProgress.connect(lambda job, p: p is not None and p.phase != "scanning" and p.chunks_done > 0
                          and not first_embed and first_embed.append(time.perf_counter()))
    probe.start()
    t0 = time.perf_counter()
    job = c.index_paths([str(corpus)])
    assert _loop_until(lambda: bool(done), 3600)
    t1 = time.perf_counter()
    report = job.result
    c.load_model(DEFAULT_MODEL)
    assert _loop_until(lambda: c.model_state == "ready", 300), "the model did not load"
    assert _loop_until(lambda: c.unavailable_reason("rag") is None, 30), c.availability
    c.set_mode("rag")
    spans, tokens = [], 0
    for question in (QUESTIONS * answers)[:answers]:
        finished: list = []
        c.answerFinished.connect(lambda _rid, answer, box=finished: box.append(answer))
        start = time.perf_counter()
        assert window.send(question) is not None, "the window did not take the question"
        assert _loop_until(lambda finished=finished: bool(finished) or not c.busy, 600)
        spans.append((start, time.perf_counter()))
        tokens += finished[0].stats.get("completion_tokens", 0) if finished else 0
    probe.stop()
    split = first_embed[0] if first_embed else t0
    result = {
        "corpus": source, "files": files, "added": getattr(report, "added", None),
        "chunks": getattr(report, "chunks_added", None), "index_s": t1 - t0,
        "index_warmup_s": split - t0,
        "indexing_warmup": _stats(probe.between(t0, split)),
        "indexing": _stats(probe.between(split, t1)),
        "streaming": _stats([ms for s, e in spans for ms in probe.between(s, e)]),
        "answers": len(spans), "answer_s": sum(e - s for s, e in spans), "tokens": tokens,
    }
    window.close()
    print(json.dumps(result), flush=True)


def child_memory() -> None:
    import gc

    import psutil

    from ragdesk.llm.registry import DEFAULT_MODEL
    from ragdesk.settings import Settings
    from ragdesk.ui.main_window import create_main_window
    from ragdesk.ui.qt import QApplication
    from ragdesk.ui.selftest import sample_docs

    process = psutil.Process()

    def idle_rss() -> float:
        _loop_until(lambda: False, 1.5)  # let the workers settle
        gc.collect()
        return process.memory_info().rss / 2**20

    _app = QApplication(["ragdesk"])  # kept alive for the whole run
    settings = Settings()
    settings.save()
    window = create_main_window(settings)
    window.show()
    c = window.controller
    assert _loop_until(lambda: c.availability is not None and c.catalog_known, 60)
    result = {"window": idle_rss()}
    c.load_model(DEFAULT_MODEL)
    assert _loop_until(lambda: c.model_state == "ready", 300)
    result["model"] = idle_rss()
    done: list = []
    c.jobDone.connect(done.append)
    c.index_paths([str(sample_docs())])
    assert _loop_until(lambda: bool(done), 600)
    result["model_embedder"] = idle_rss()
    window.close()
    print(json.dumps(result), flush=True)


# ------------------------------------------------------------------------------ parent


def cold_start(runs: int) -> dict:
    root = scratch_home("gui-cold")
    times, heavy = [], set()
    for _ in range(runs + 1):  # the first run warms the disk cache and is not counted
        t0 = time.time()
        out = run_child("cold", root / "home", timeout=120)
        assert out["visible"], out
        times.append(out["t_shown"] - t0)
        heavy.update(out["heavy"])
    counted = sorted(times[1:])
    return {"median": percentile(counted, 50), "min": counted[0], "max": counted[-1], "first": times[0],
            "heavy": sorted(heavy)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--answers", type=int, default=3)
    parser.add_argument("--only", default="cold,latency,memory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        {"cold": child_cold, "memory": child_memory,
         "latency": lambda: child_latency(args.files, args.answers)}[args.child]()
        return
    parts = set(args.only.split(","))
    rows = []
    print(f"ragdesk GUI benchmarks on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start",
          flush=True)
    if "cold" in parts:
        cold = cold_start(args.runs)
        rows.append(("Cold start to interactive window (median)", "<= 1.5 s",
                     f"{cold['median']:.2f} s (min {cold['min']:.2f}, max {cold['max']:.2f}; "
                     f"first, cold cache {cold['first']:.2f}); heavy libraries imported: {cold['heavy'] or 'none'}"))
    if "latency" in parts:
        lat = run_child("latency", scratch_home("gui-latency") / "home",
                        "--files", str(args.files), "--answers", str(args.answers), timeout=7200)

        def fmt(s: dict) -> str:
            return f"p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, max {s['max']:.0f} ms (n={s['n']})"

        rows.append((f"Event-loop lateness, indexing {lat['files']:,} files ({lat['corpus']})", "p99 <= 50 ms",
                     fmt(lat["indexing"]) + f"; {lat['chunks']:,} chunks in {lat['index_s']:.0f} s"))
        rows.append(("  of which the first seconds: torch + embedding model loading", "",
                     fmt(lat["indexing_warmup"]) + f" over {lat['index_warmup_s']:.1f} s"))
        rows.append((f"Event-loop lateness, streaming {lat['answers']} RAG answers (SmolLM2)", "p99 <= 50 ms",
                     fmt(lat["streaming"]) + f"; {lat['tokens']} tokens in {lat['answer_s']:.1f} s"))
    if "memory" in parts:
        mem = run_child("memory", scratch_home("gui-memory") / "home")
        rows.append(("Idle RSS: window, no model", "", f"{mem['window']:.0f} MiB"))
        rows.append(("Idle RSS: + SmolLM2-135M loaded", "", f"{mem['model']:.0f} MiB"))
        rows.append(("Idle RSS: + embedding model (after indexing)", "", f"{mem['model_embedder']:.0f} MiB"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'Measure':<{width}}  {'Target':<13}  Result")
    for name, target, result in rows:
        print(f"{name:<{width}}  {target:<13}  {result}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
