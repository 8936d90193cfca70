"""A tiny random-weight Gemma 3 text model: HF directory and GGUF twin (llama.cpp ``gemma3``).

A second architecture for tests: adapters made for the llama twin must be refused
by it, and the PEFT importer's Gemma rules (no Q/K permutation, (1 + w) norms,
embedding scale, tied output) are checked against transformers. It is the
``gemma3`` twin of :mod:`support.tiny_twins`.
"""

from __future__ import annotations

from pathlib import Path

from support.tiny_models import TinyModel
from support.tiny_twins import build_twin


def build_tiny_gemma3(out_dir: Path, *, seed: int = 0) -> TinyModel:
    """The tiny Gemma 3 under ``out_dir/hf`` and its GGUF twin ``out_dir/tiny-gemma3.gguf``."""
    return build_twin("gemma3", out_dir, seed=seed)
