"""What the reranker costs per query: hybrid search alone, then reranking its top 20 and top 50.

A cross-encoder's cost depends on its shape, not on its weights, and no
published reranker can be downloaded here. So the figures come from
random-weight cross-encoders with the shapes of the two catalogue rerankers,
built from the bundled all-MiniLM-L6-v2 (its BERT tokenizer and encoder):

* ``minilm-l6`` (6 layers, 384 wide): the shape of cross-encoder/ms-marco-MiniLM-L6-v2;
* ``base-12`` (12 layers, 768 wide): the shape of BAAI/bge-reranker-base (an
  XLM-R model; its larger vocabulary changes memory, not speed).

``--reranker DIR`` measures a real reranker folder instead. Queries and
passages are the real-documents dev set's (its index is built, or reused with
``--home``). The cost is reported per query as p50/p95 milliseconds, side by
side with hybrid search alone in the same run.

Usage: python tests/benchmarks/bench_rerank.py [--work DIR] [--home DIR] [--queries N] [--reranker DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_retrieval_realdocs import open_store  # noqa: E402
from build_realdocs_devset import DEFAULT_WORK, build  # noqa: E402
from common import percentile, scratch_home  # noqa: E402

SHAPES = {"minilm-l6": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
          "base-12": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072)}
SLOW_SHAPES = {"base-12"}  # about 8x the work of MiniLM: fewer queries (--slow-queries)


def shaped_cross_encoder(folder: Path, shape: dict) -> Path:
    """A random-weight BertForSequenceClassification of ``shape`` with all-MiniLM-L6-v2's tokenizer."""
    import shutil

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from ragdesk.embedder import resolve_model_path

    source = Path(resolve_model_path("all-MiniLM-L6-v2"))
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    config = BertConfig.from_pretrained(str(source), num_labels=1, **shape)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(str(folder), safe_serialization=True)
    return folder


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def timed(store, queries: list[str], **options) -> list[float]:
    out = []
    for text in queries:
        start = time.perf_counter()
        store.search(text, k=5, mode="hybrid", **options)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--home", type=Path, help="data folder holding (or to hold) the dev set's index")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--slow-queries", type=int, default=10, help="queries for the base-size shape")
    parser.add_argument("--reranker", type=Path, help="a real reranker folder instead of the shaped ones")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    folder = build(args.work)
    if args.home:
        import os

        from ragdesk import paths

        os.environ[paths.ENV_HOME] = str(args.home)
        paths.set_home(None)
    else:
        scratch_home("rerank")
    from ragdesk.evaluation import retrieval as metrics

    texts = list(metrics.load_queries(folder / "queries.jsonl").values())
    queries = [texts[i] for i in range(0, len(texts), max(1, len(texts) // args.queries))][: args.queries]
    rerankers = {"given": args.reranker} if args.reranker else {
        name: shaped_cross_encoder(Path(tempfile.mkdtemp(prefix=f"ragdesk-ce-{name}-")), shape)
        for name, shape in SHAPES.items()}
    results = {}

    def report(name: str, values: list[float]) -> None:
        results[name] = values
        added = percentile(values, 50) - percentile(results["hybrid"], 50)
        print(f"{name:22}{percentile(values, 50):9.1f}{percentile(values, 95):9.1f}{added:+11.1f}"
              f"  ({len(values)} queries)", flush=True)

    print(f"{'':22}{'p50 ms':>9}{'p95 ms':>9}{'added p50':>11}", flush=True)
    with open_store(args.work / "embeddings.sqlite") as store:
        store.index([folder / "corpus"])
        chunks = store.chunk_count()
        timed(store, queries[:5], rerank=False)  # warm: models loaded, caches filled
        results["hybrid"] = []
        report("hybrid", timed(store, queries, rerank=False))
        for name, path in rerankers.items():
            store.settings.reranker = str(path)  # a folder works without registering it
            some = queries[: args.slow_queries] if name in SLOW_SHAPES else queries
            for top_n in (20, 50):
                store.settings.rerank_top_n = top_n
                timed(store, some[:2], rerank=True)
                report(f"{name} top-{top_n}", timed(store, some, rerank=True))
    print(f"dev-set queries, k=5, {chunks} chunks; torch on {torch_threads()} threads")
    if args.json:
        args.json.write_text(json.dumps({n: {"p50_ms": round(percentile(v, 50), 2), "p95_ms": round(percentile(v, 95), 2)}
                                         for n, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
