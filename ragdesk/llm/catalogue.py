"""A short list of recommended small instruct models (GGUF, Q4_K_M) on the Hugging Face hub.

Sizes are the published file sizes as last seen on the hub, for showing before a
download: ``approx_size`` is informational only. ``ragdesk models pull`` checks
the real size and sha256 against the hub's metadata at download time, so a
re-uploaded file never fails because this table is stale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable


@dataclass(frozen=True)
class CatalogueEntry:
    """A model that can be pulled by its short name."""

    name: str
    title: str
    repo_id: str
    filename: str
    approx_size: int  # bytes; approximate (see the module docstring)
    context_length: int  # tokens the model was trained for (set n_ctx lower to save memory)
    license: str
    params: str
    description: str
    quant: str = "Q4_K_M"

    @property
    def source(self) -> str:
        """The registry ``source`` of this file once pulled."""
        return f"hf:{self.repo_id}/{self.filename}"

    def to_json(self) -> dict:
        return asdict(self)


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        name="qwen2.5-0.5b-instruct",
        title="Qwen2.5 0.5B Instruct",
        repo_id="Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        filename="qwen2.5-0.5b-instruct-q4_k_m.gguf",
        approx_size=491_400_032,
        context_length=32_768,
        license="Apache-2.0",
        params="0.5B",
        description="Smallest useful chat model; fast on any laptop, multilingual.",
    ),
    CatalogueEntry(
        name="llama-3.2-1b-instruct",
        title="Llama 3.2 1B Instruct",
        repo_id="bartowski/Llama-3.2-1B-Instruct-GGUF",
        filename="Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        approx_size=807_694_464,
        context_length=131_072,
        license="Llama 3.2 Community License",
        params="1B",
        description="Meta's small model: quick, friendly answers, long context.",
    ),
    CatalogueEntry(
        name="smollm2-1.7b-instruct",
        title="SmolLM2 1.7B Instruct",
        repo_id="bartowski/SmolLM2-1.7B-Instruct-GGUF",
        filename="SmolLM2-1.7B-Instruct-Q4_K_M.gguf",
        approx_size=1_055_609_824,
        context_length=8_192,
        license="Apache-2.0",
        params="1.7B",
        description="The big sibling of the built-in SmolLM2; English, fully open.",
    ),
    CatalogueEntry(
        name="qwen2.5-1.5b-instruct",
        title="Qwen2.5 1.5B Instruct",
        repo_id="Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        filename="qwen2.5-1.5b-instruct-q4_k_m.gguf",
        approx_size=1_117_320_736,
        context_length=32_768,
        license="Apache-2.0",
        params="1.5B",
        description="Good quality for its size; a sensible default for question answering.",
    ),
    CatalogueEntry(
        name="gemma-2-2b-it",
        title="Gemma 2 2B Instruct",
        repo_id="bartowski/gemma-2-2b-it-GGUF",
        filename="gemma-2-2b-it-Q4_K_M.gguf",
        approx_size=1_708_582_752,
        context_length=8_192,
        license="Gemma Terms of Use",
        params="2.6B",
        description="Google's small instruct model; fluent writing (no system prompt role).",
    ),
    CatalogueEntry(
        name="llama-3.2-3b-instruct",
        title="Llama 3.2 3B Instruct",
        repo_id="bartowski/Llama-3.2-3B-Instruct-GGUF",
        filename="Llama-3.2-3B-Instruct-Q4_K_M.gguf",
        approx_size=2_019_377_696,
        context_length=131_072,
        license="Llama 3.2 Community License",
        params="3B",
        description="Noticeably better answers than 1B; wants about 4 GB of memory.",
    ),
    CatalogueEntry(
        name="phi-3.5-mini-instruct",
        title="Phi-3.5 mini Instruct",
        repo_id="bartowski/Phi-3.5-mini-instruct-GGUF",
        filename="Phi-3.5-mini-instruct-Q4_K_M.gguf",
        approx_size=2_393_232_672,
        context_length=131_072,
        license="MIT",
        params="3.8B",
        description="Microsoft's strongest small reasoner here; slowest of the list on a CPU.",
    ),
)


def find(name: str) -> CatalogueEntry | None:
    """The catalogue entry called ``name`` (case-insensitive), or None."""
    lowered = name.lower()
    return next((e for e in CATALOGUE if e.name == lowered), None)


def find_file(repo_id: str, filename: str) -> CatalogueEntry | None:
    """The catalogue entry for this hub file, or None (repo ids are case-insensitive on the hub)."""
    return next(
        (e for e in CATALOGUE if e.repo_id.lower() == repo_id.lower() and e.filename == filename), None
    )


def not_downloaded(installed_sources: Iterable[str]) -> list[CatalogueEntry]:
    """Catalogue entries whose file is not among the registry's ``source`` values yet."""
    have = set(installed_sources)
    return [e for e in CATALOGUE if e.source not in have]
