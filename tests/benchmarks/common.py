"""Helpers shared by the benchmark scripts: data locations, a scratch data folder, timing."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RAGDESK_SHARED_DATA", REPO.parent / "shared" / "data"))
SCIFACT = SHARED / "scifact"
PUBMEDQA = SHARED / "pubmedqa"


def scratch_home(name: str) -> Path:
    """A fresh data folder for one benchmark run (RAGDESK_HOME points at its ``home``)."""
    return kept_home(tempfile.mkdtemp(prefix=f"ragdesk-bench-{name}-"))


def kept_home(folder: str | Path) -> Path:
    """``folder`` as a data folder kept between runs (RAGDESK_HOME points at its ``home``)."""
    from ragdesk import paths

    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    os.environ[paths.ENV_HOME] = str(root / "home")
    paths.set_home(None)
    return root


QUERY_TIME_OPTIONS = ("identifiers", "dedupe", "fusion", "titles")
INGESTION_ONLY = ("chrome",)  # a settings change for a fresh index (bench_retrieval_realdocs.py --off)


def search_options_off(names: list[str]):
    """Put in force the search options with the query-time ones ``names`` turned off; the previous ones.

    ``fusion`` off is plain RRF; names that act only at ingestion (``chrome``) are left to the caller.
    """
    from ragdesk.store import search_options

    unknown = [n for n in names if n and n not in (*QUERY_TIME_OPTIONS, *INGESTION_ONLY)]
    if unknown:
        raise SystemExit(f"unknown search option(s) {', '.join(unknown)}: "
                         f"choose from {', '.join((*QUERY_TIME_OPTIONS, *INGESTION_ONLY))}")
    changes = {n: ("rrf" if n == "fusion" else False) for n in names if n in QUERY_TIME_OPTIONS}
    return search_options.use(search_options.active(), **changes)


def dump_hits(entry: dict, mode: str, hits, doc_id) -> None:
    """Record one mode's top 100 for ``fusion_lab.py``: [document id, chunk id, score, cosine] each.

    BM25's first hit also leaves its document's title (``bm25_title``): the
    fusion's title guard asks whether the query names it.
    """
    entry[mode] = [(doc_id(h.path), h.chunk_id, round(h.score, 5),
                    None if h.similarity is None else round(h.similarity, 5)) for h in hits[:100]]
    if mode == "bm25" and hits:
        entry["bm25_title"] = hits[0].title


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_scifact_corpus(folder: Path, limit: int | None = None) -> int:
    """One ``<doc id>.txt`` per SciFact abstract (title, blank line, text); returns the count."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for doc in read_jsonl(SCIFACT / "corpus.jsonl")[:limit]:
        path, text = folder / f"{doc['_id']}.txt", f"{doc['title']}\n\n{doc['text']}"
        if not path.exists() or path.read_text(encoding="utf-8") != text:  # a kept index stays unchanged
            path.write_text(text, encoding="utf-8")
        n += 1
    return n


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def summary(values_ms: list[float]) -> str:
    return (
        f"p50 {percentile(values_ms, 50):7.2f} ms  p95 {percentile(values_ms, 95):7.2f} ms  "
        f"mean {statistics.fmean(values_ms):7.2f} ms  (n={len(values_ms)})"
    )
