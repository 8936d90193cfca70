"""Cross-encoder reranking of search candidates (sentence-transformers ``CrossEncoder``, loaded lazily).

A cross-encoder reads the query and one passage together and scores how well
the passage answers it: slower than comparing vectors, so it only reorders the
first ``top_n`` candidates of a search. Rerankers are folders in the format
transformers saves (``config.json`` of a ``*ForSequenceClassification`` model
with one output, tokenizer files, ``model.safetensors``), pulled with
``ragdesk models pull --kind reranker`` or added from disk. Nothing reranks
until one is chosen in the settings. torch loads only on the first rerank.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from ragdesk.errors import RagdeskError
from ragdesk.records import Hit

TOP_N_DEFAULT = 30
TOP_N_MIN, TOP_N_MAX = 20, 50
WEIGHT_FILES = ("model.safetensors",)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model")
# What a pull fetches from a hub repository: enough to load, nothing else (no ONNX, Flax or pickles).
SNAPSHOT_FILES = ("config.json", "tokenizer_config.json", "special_tokens_map.json", *TOKENIZER_FILES,
                  *WEIGHT_FILES)


class RerankerError(RagdeskError):
    """The reranker is missing, not a cross-encoder, or failed to load."""


@dataclass(frozen=True)
class RerankerFacts:
    """What a reranker folder holds, read without loading it."""

    architecture: str
    size: int


def clamp_top_n(n: int) -> int:
    """Candidates to rerank, kept in the range where it pays off (20-50)."""
    return max(TOP_N_MIN, min(TOP_N_MAX, int(n)))


def inspect_folder(path: str | Path) -> RerankerFacts:
    """Check that ``path`` holds a loadable one-output sequence classifier; raise RerankerError otherwise."""
    folder = Path(path)
    if not folder.is_dir():
        raise RerankerError(f"{folder} is not a folder: a reranker is a folder with config.json, "
                            "tokenizer files and model.safetensors.")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RerankerError(f"{folder} has no readable config.json ({exc}).") from None
    architectures = config.get("architectures") or []
    architecture = next((a for a in architectures if a.endswith("ForSequenceClassification")), None)
    if architecture is None:
        raise RerankerError(f"{folder.name} is not a cross-encoder: its architecture is "
                            f"{', '.join(architectures) or 'not given'}, not a *ForSequenceClassification model.")
    labels = len(config.get("id2label") or {}) or int(config.get("num_labels", 1) or 1)
    if labels != 1:
        raise RerankerError(f"{folder.name} is a classifier with {labels} outputs; a reranker has one (a relevance score).")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise RerankerError(f"{folder.name} has no tokenizer ({', '.join(TOKENIZER_FILES)}).")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise RerankerError(f"{folder.name} has no model.safetensors (other weight formats are not loaded).")
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return RerankerFacts(architecture, size)


class Reranker:
    """One cross-encoder, shared by every Reranker of the same folder; thread-safe to load."""

    _lock = threading.Lock()
    _cache: dict[str, object] = {}

    def __init__(self, path: str | Path, *, device: str | None = None) -> None:
        self.path = str(Path(path).resolve())
        self.device = device

    @property
    def model(self):
        """The loaded ``CrossEncoder`` (the first call imports torch and reads the weights)."""
        with Reranker._lock:
            model = Reranker._cache.get(self.path)
            if model is None:
                inspect_folder(self.path)
                from sentence_transformers import CrossEncoder

                from ragdesk.embedding.quiet import quiet_transformers

                quiet_transformers()
                try:
                    model = CrossEncoder(self.path, device=self.device, local_files_only=True)
                except Exception as exc:  # noqa: BLE001 - any failure is "cannot load"
                    raise RerankerError(f"cannot load the reranker in {self.path}: {exc}") from exc
                Reranker._cache[self.path] = model
            return model

    def scores(self, query: str, texts: list[str]) -> list[float]:
        """The relevance score of each text to the query (higher is better)."""
        if not texts:
            return []
        values = self.model.predict([(query, text) for text in texts], batch_size=16, show_progress_bar=False,
                                    convert_to_numpy=True)
        return [float(v) for v in values]

    def rerank(self, query: str, hits: list[Hit], top_n: int = TOP_N_DEFAULT) -> list[Hit]:
        """``hits`` with the first ``top_n`` reordered by the cross-encoder (ties keep their order).

        A reranked hit's ``score`` becomes the cross-encoder's score; its
        cosine ``similarity`` is kept. Hits past ``top_n`` follow unchanged.
        """
        head, tail = hits[:top_n], hits[top_n:]
        scores = self.scores(query, [hit.text for hit in head])
        order = sorted(range(len(head)), key=lambda i: -scores[i])
        return [replace(head[i], score=scores[i]) for i in order] + tail
