"""The embedding engines side by side on the same chunks: speed, and vectors against PyTorch.

Candidates for issue #14 (all-MiniLM-L6-v2, CPU, model already loaded):
  torch fp32      sentence-transformers as before (batch 32)
  onnx fp32       the exported graph (mean pooling + normalise inside), onnxruntime
  onnx int8       the same graph after dynamic int8 quantisation (ragdesk's default)
  st onnx         sentence-transformers' own backend="onnx" (needs optimum; tried, reported)
The chunks are SciFact abstracts cut by ragdesk's chunker; rounds alternate the
engines so a loaded machine treats them alike. Printed: chunks/s, speed-up over
torch, and the cosine of each vector with the PyTorch one (min, mean).
Usage: python tests/benchmarks/bench_embedding_backends.py [--docs 600] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np
from common import Timer, scratch_home, write_scifact_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from ragdesk.embedder import Embedder, known_max_tokens, resolve_model_path
    from ragdesk.embedding import onnx_export
    from ragdesk.embedding.onnx_encoder import OnnxEncoder
    from ragdesk.ingest import Chunker, IngestRules, extract, load, walk
    from ragdesk.settings import Settings

    root = scratch_home("embedding-backends")
    try:
        folder = root / "abstracts"
        write_scifact_corpus(folder, args.docs)
        settings = Settings()
        chunker = Chunker(Embedder(settings.embedding_model).tokenizer(), settings.chunk_tokens, settings.chunk_overlap)
        rules = IngestRules.from_settings(settings)
        texts = [c.text for e in walk([folder], rules) for c in chunker.chunk(extract(load(e, rules)))]
        model_dir = Path(resolve_model_path(settings.embedding_model))
        max_tokens = known_max_tokens(settings.embedding_model) or 256

        out = root / "export"
        out.mkdir()
        with Timer() as t:
            inputs = onnx_export.build(model_dir, out, keep_fp32=True)
        print(f"export + quantisation: {t.seconds:.1f} s; fp32 {(out / onnx_export.FP32_NAME).stat().st_size / 2**20:.0f} MiB,"
              f" int8 {(out / onnx_export.INT8_NAME).stat().st_size / 2**20:.0f} MiB")

        st = SentenceTransformer(str(model_dir), device="cpu")
        engines = {
            "torch fp32": lambda xs: st.encode(xs, batch_size=32, normalize_embeddings=True, convert_to_numpy=True),
        }
        for label, name in (("onnx fp32", onnx_export.FP32_NAME), ("onnx int8", onnx_export.INT8_NAME)):
            encoder = OnnxEncoder(out / name, model_dir / "tokenizer.json", inputs, max_tokens)
            engines[label] = encoder.encode
        try:
            st_onnx = SentenceTransformer(str(model_dir), device="cpu", backend="onnx")
            engines["st onnx"] = lambda xs: st_onnx.encode(xs, batch_size=32, normalize_embeddings=True)
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            print(f"st onnx: not available here ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
        print("llama.cpp GGUF: not measured (no BERT-to-GGUF converter is installed here)")

        for fn in engines.values():
            fn(texts[:64])  # warm up
        times = {k: [] for k in engines}
        vectors = {}
        for r in range(args.rounds):
            order = list(engines) if r % 2 == 0 else list(reversed(engines))
            for label in order:
                with Timer() as t:
                    vectors[label] = np.asarray(engines[label](texts), dtype=np.float32)
                times[label].append(t.seconds)
        base = min(times["torch fp32"])
        print(f"{len(texts)} chunks from {args.docs} SciFact abstracts, {args.rounds} rounds, "
              f"{os.cpu_count()} CPUs; best round of each")
        print(f"{'engine':12} {'seconds':>8} {'chunks/s':>9} {'speed-up':>9} {'cos min':>8} {'cos mean':>9}")
        for label in engines:
            best = min(times[label])
            cos = np.sum(vectors[label] * vectors["torch fp32"], axis=1)
            print(f"{label:12} {best:8.1f} {len(texts) / best:9.1f} {base / best:8.2f}x {cos.min():8.4f} {cos.mean():9.5f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
