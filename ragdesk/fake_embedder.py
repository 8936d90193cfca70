"""A deterministic, model-free embedder: the fast tests' stand-in for the real one.

:class:`HashEmbedder` hashes a text's content words (lower-cased, function
words dropped, a crude suffix stripped so "descaled" meets "descale") into a vector of the real model's size
and L2-normalises it: texts that share words are near, others are not. It is
the same on every machine (blake2b, no floating-point model), loads in no time
and needs no torch. It tokenizes with the real model's tokenizer, so chunk
boundaries are exactly those of a real index.

It is chosen by ``RAGDESK_FAKE_EMBEDDER=1`` (see :func:`create_embedder`, the one
place the store gets an embedder from); tests that measure retrieval quality use
the real model instead.
"""

from __future__ import annotations

import hashlib
import math
import os
import re

import numpy as np

from ragdesk.embedder import (
    DEFAULT_MODEL,
    Embedder,
    EmbedderProtocol,
    known_dimension,
    known_max_tokens,
    load_tokenizer,
)

FAKE_ENV = "RAGDESK_FAKE_EMBEDDER"  # "1": the deterministic HashEmbedder (fast tests), never the real model

_WORD = re.compile(r"\w+", re.UNICODE)
_SUFFIXES = ("ing", "ed", "es", "s")
# Function words carry no topic: left out, so texts that share content words score
# about as high as with the real model (cosine 0.4-0.7), above the relevance threshold.
_STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into is it its
may might must my no not of on or our should so such than that the their them then there these they this
to was we were what when where which who why will with would you your every often
""".split())
DEFAULT_DIMENSION = 384  # all-MiniLM-L6-v2's
DEFAULT_MAX_TOKENS = 256


def _stem(word: str) -> str:
    """A crude stem: "descaled", "descales" and "descale" all become "descal"."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, (1.0 if value >> 63 else -1.0)  # a sign bit spreads collisions evenly


class HashEmbedder:
    """Hashed bag of words, normalised: deterministic vectors of the named model's size."""

    def __init__(self, name: str = DEFAULT_MODEL, *, device: str | None = None) -> None:
        self.name = name
        self.device = device
        self.dimension = known_dimension(name) or DEFAULT_DIMENSION
        self.max_tokens = known_max_tokens(name) or DEFAULT_MAX_TOKENS

    def tokenizer(self):
        return load_tokenizer(self.name)

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float64)
        counts: dict[str, int] = {}
        for word in _WORD.findall(text.lower()):
            if word in _STOPWORDS:
                continue
            stem = _stem(word)
            counts[stem] = counts.get(stem, 0) + 1
        for stem, n in counts.items():
            index, sign = _bucket(stem, self.dimension)
            vector[index] += sign * (1.0 + math.log(n))  # sublinear: a repeated word doesn't dominate
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # no words at all: a fixed unit vector, as a real model never returns zeros
            vector[0], norm = 1.0, 1.0
        return (vector / norm).astype(np.float32)

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Embed passages; returns an (n, dimension) float32 array."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.stack([self._vector(t) for t in texts]), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query; returns a (dimension,) float32 array."""
        return self._vector(text)


def create_embedder(name: str = DEFAULT_MODEL, *, backend: str = "auto") -> EmbedderProtocol:
    """The embedder for model ``name``: the real one, or this fake under ``RAGDESK_FAKE_EMBEDDER=1``."""
    if os.environ.get(FAKE_ENV) == "1":
        return HashEmbedder(name)
    return Embedder(name, backend=backend)
