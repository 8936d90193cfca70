"""Live folders: time from a file save to its chunks being searchable while watching.

N SciFact abstracts are split over three folders of one collection and
indexed. Two folders are watched by the real ``FolderWatcher`` (inotify here),
synced by one loop as ``ragdesk watch`` runs it; the third is not watched.
Each round saves one file in each folder, in turn, with a new, unique sentence,
and measures until a BM25 search on a second connection (as the app's or
another process's) finds it. The rounds interleave, so the machine's load
falls on the three alike:

  * watched with the shipped debounce (1 s quiet period, 5 s max wait);
  * watched with a 0.2 s quiet period (how much of the latency is the debounce);
  * not watched: ``KnowledgeStore.sync_changes`` of the saved file, called right
    after the save (the floor: reading, chunking, embedding, writing one file).

Usage: RAGDESK_SHARED_DATA=/path/to/shared/data python tests/benchmarks/bench_watch.py [--docs 150] [--saves 20]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from common import percentile, scratch_home, write_scifact_corpus


def save(path: Path, marker: str) -> float:
    """Append a sentence with ``marker`` to ``path``; the time the save finished."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"\n\nAddendum {marker}: the measurement was repeated with a larger cohort.")
    return time.perf_counter()


def wait_searchable(reader, marker: str, timeout: float = 60.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if reader.search(marker, k=1, mode="bm25"):
            return time.perf_counter()
        time.sleep(0.005)
    raise RuntimeError(f"{marker} not searchable within {timeout} s")


class SyncLoop:
    """What ``ragdesk watch`` does in its main loop, for several watchers, on one thread."""

    def __init__(self, store, watchers) -> None:
        self.store, self.watchers = store, watchers
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from ragdesk.store.watcher import sync_batch

        while not self.stop.is_set():
            for watcher in self.watchers:
                batch = watcher.take(timeout=0)
                if batch:
                    sync_batch(self.store, batch)
            time.sleep(0.01)

    def __enter__(self):
        for watcher in self.watchers:
            watcher.start()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        for watcher in self.watchers:
            watcher.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=150)
    parser.add_argument("--saves", type=int, default=20)
    args = parser.parse_args()

    from ragdesk.ingest import IngestRules
    from ragdesk.store import KnowledgeStore
    from ragdesk.store.watcher import FolderWatcher, WatchTarget

    root = scratch_home("watch")
    write_scifact_corpus(root / "all", args.docs)
    everything = sorted((root / "all").iterdir())
    folders = [root / name for name in ("shipped", "fast", "unwatched")]
    for n, folder in enumerate(folders):
        folder.mkdir()
        for path in everything[n::3]:
            path.rename(folder / path.name)
    names = ["watched, shipped debounce (1 s quiet, 5 s max)", "watched, 0.2 s quiet period",
             "not watched: sync the saved file at once (floor)"]
    latencies: dict[str, list[float]] = {name: [] for name in names}
    with KnowledgeStore() as store, KnowledgeStore() as reader:
        t = time.perf_counter()
        report = store.index(folders)
        print(f"indexed {report.added} files, {report.chunks_added} chunks in {time.perf_counter() - t:.1f} s")
        rules = IngestRules.from_settings(store.settings)
        watchers = [FolderWatcher([WatchTarget("default", folders[0])], rules, quiet_s=1.0, max_wait_s=5.0),
                    FolderWatcher([WatchTarget("default", folders[1])], rules, quiet_s=0.2, max_wait_s=5.0)]
        files = [sorted(folder.iterdir()) for folder in folders]
        with SyncLoop(store, watchers):
            for i in range(args.saves):
                for n, name in enumerate(names):
                    marker = f"zq{n}r{i}x"
                    path = files[n][i % len(files[n])]
                    saved = save(path, marker)
                    if n == 2:
                        store.sync_changes(folders[2], [path])
                    latencies[name].append(wait_searchable(reader, marker) - saved)
                    time.sleep(0.3)  # let the watcher go quiet between rounds
    print(f"\nsave -> searchable (BM25 on a second connection), {args.saves} saves each, {args.docs}-file collection")
    print(f"{'':52} {'p50':>8} {'p95':>8} {'max':>8}")
    for name, values in latencies.items():
        print(f"{name:52} {percentile(values, 50):7.2f}s {percentile(values, 95):7.2f}s {max(values):7.2f}s")


if __name__ == "__main__":
    main()
