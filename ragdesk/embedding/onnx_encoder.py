"""Run an exported embedding model with onnxruntime: no torch in the process."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ragdesk.embedding.batching import BATCH_TOKENS, token_batches


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class OnnxEncoder:
    """Tokenise with the model's fast tokenizer, run the graph, return unit float32 vectors.

    Pooling and normalisation are inside the graph (see onnx_export), so the
    output is used as it comes. Cores are used batch by batch, not op by op:
    the session runs each batch on one thread (``threads``, default 1) and up
    to ``workers`` batches run at once (session.run releases the GIL). A
    MiniLM batch's matrices are small, so splitting every op across threads
    spent much of the time at the threads' meeting points, and more so on a
    busy machine (bench_embedding_backends.py, README).
    """

    def __init__(self, model_path: Path, tokenizer_path: Path, inputs: tuple[str, ...], max_tokens: int,
                 *, threads: int | None = None, workers: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle workers sleep instead of spinning: while indexing, the reader thread
        # needs the core that a spinning worker would burn between batches.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        self.inputs = inputs
        self.workers = workers or default_workers()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # A private tokenizer: truncation is set on it, and the shared one (the chunker's) must not change.
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.dimension = int(self.session.get_outputs()[0].shape[-1]) if isinstance(
            self.session.get_outputs()[0].shape[-1], int) else None

    def encode(self, texts: list[str], *, batch_tokens: int = BATCH_TOKENS) -> np.ndarray:
        """Embed ``texts``; inputs of similar length share a batch of about ``batch_tokens`` tokens."""
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        lengths = [len(e.ids) for e in encodings]
        groups = token_batches(lengths, batch_tokens)

        def run(group: list[int]) -> np.ndarray:
            width = max(lengths[i] for i in group)
            ids = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            types = np.zeros((len(group), width), dtype=np.int64)
            for row, i in enumerate(group):
                enc = encodings[i]
                n = lengths[i]
                ids[row, :n] = enc.ids
                mask[row, :n] = 1
                types[row, :n] = enc.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            return self.session.run(["embedding"], {k: feed[k] for k in self.inputs})[0]

        if len(groups) == 1 or self.workers == 1:
            results = map(run, groups)
        else:
            results = self._executor().map(run, groups)
        out: np.ndarray | None = None
        for group, vectors in zip(groups, results):
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[group] = vectors
        return out

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ragdesk-embed")
            return self._pool
