"""A short list of recommended small instruct models (GGUF) on the Hugging Face hub.

Every entry was checked against public material (the model page, its file list and
the files' published sizes) on the page named in its comment: repository, file
name, size in bytes, licence, chat template, context length, parameters, and the
shape numbers (layers, KV heads, head size) the memory estimate uses; an entry that
could not be checked stays out. ``approx_size`` is for showing before a download
and estimating memory; ``ragdesk models pull`` checks the real size and sha256
against the hub's metadata at download time, so a re-uploaded file never fails
because this table is stale.

Every ``architecture`` here must be one ``lora train`` can make adapters for
(:data:`ragdesk.llm.architectures.TRAINABLE`); a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CatalogueEntry:
    """A model that can be pulled by its short name."""

    name: str
    title: str
    repo_id: str
    filename: str
    approx_size: int  # bytes, as published (see the module docstring)
    context_length: int  # tokens the model was trained for (set n_ctx lower to save memory)
    license: str
    params: str
    description: str
    architecture: str  # llama.cpp's general.architecture
    base_repo: str  # the original (unquantized) weights on the hub, what training can start from
    layers: int  # these three size the KV cache in the memory estimate
    kv_heads: int
    head_dim: int
    quant: str = "Q4_K_M"

    @property
    def source(self) -> str:
        """The registry ``source`` of this file once pulled."""
        return f"hf:{self.repo_id}/{self.filename}"

    def to_json(self) -> dict:
        return asdict(self)


CATALOGUE: tuple[CatalogueEntry, ...] = (
    # https://huggingface.co/Qwen/Qwen3-0.6B-GGUF (Qwen's own GGUF; Q8_0, bytes as pinned by public
    # download scripts; 32K context; hybrid-thinking chat template, asked for direct answers).
    CatalogueEntry(
        name="qwen3-0.6b", title="Qwen3 0.6B", repo_id="Qwen/Qwen3-0.6B-GGUF",
        filename="Qwen3-0.6B-Q8_0.gguf", approx_size=639_446_688, context_length=32_768,
        license="Apache-2.0", params="0.6B", architecture="qwen3", base_repo="Qwen/Qwen3-0.6B",
        layers=28, kv_heads=8, head_dim=128, quant="Q8_0",
        description="Smallest useful chat model; multilingual, quick on any laptop.",
    ),
    # https://huggingface.co/ggml-org/gemma-3-1b-it-GGUF (806 MB as in its file lists, licence gemma,
    # chat template; exact bytes from a public 2026 probe of the repository).
    CatalogueEntry(
        name="gemma-3-1b-it", title="Gemma 3 1B Instruct", repo_id="ggml-org/gemma-3-1b-it-GGUF",
        filename="gemma-3-1b-it-Q4_K_M.gguf", approx_size=806_058_240, context_length=32_768,
        license="Gemma Terms of Use", params="1B", architecture="gemma3", base_repo="google/gemma-3-1b-it",
        layers=26, kv_heads=1, head_dim=256,
        description="Google's smallest instruct model; fluent, light on memory (no system prompt role).",
    ),
    # https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF (kept from the 2024 list; bytes re-checked).
    CatalogueEntry(
        name="llama-3.2-1b-instruct", title="Llama 3.2 1B Instruct", repo_id="bartowski/Llama-3.2-1B-Instruct-GGUF",
        filename="Llama-3.2-1B-Instruct-Q4_K_M.gguf", approx_size=807_694_464, context_length=131_072,
        license="Llama 3.2 Community License", params="1B", architecture="llama",
        base_repo="meta-llama/Llama-3.2-1B-Instruct", layers=16, kv_heads=8, head_dim=64,
        description="Meta's small model: quick, friendly answers, long context.",
    ),
    # https://huggingface.co/ggml-org/Qwen3-1.7B-GGUF (model page: apache-2.0, qwen3, chat template,
    # Q4_K_M 1.28 GB; exact bytes and sha256 as pinned by public projects).
    CatalogueEntry(
        name="qwen3-1.7b", title="Qwen3 1.7B", repo_id="ggml-org/Qwen3-1.7B-GGUF",
        filename="Qwen3-1.7B-Q4_K_M.gguf", approx_size=1_282_439_264, context_length=32_768,
        license="Apache-2.0", params="1.7B", architecture="qwen3", base_repo="Qwen/Qwen3-1.7B",
        layers=28, kv_heads=8, head_dim=128,
        description="Good quality for its size; a sensible default for question answering.",
    ),
    # https://huggingface.co/ggml-org/SmolLM3-3B-GGUF (apache-2.0, smollm3, 64K context, hybrid-reasoning
    # chat template; bytes from a public 2026 probe of the repository).
    CatalogueEntry(
        name="smollm3-3b", title="SmolLM3 3B", repo_id="ggml-org/SmolLM3-3B-GGUF",
        filename="SmolLM3-Q4_K_M.gguf", approx_size=1_915_305_312, context_length=65_536,
        license="Apache-2.0", params="3B", architecture="smollm3", base_repo="HuggingFaceTB/SmolLM3-3B",
        layers=36, kv_heads=4, head_dim=128,
        description="Hugging Face's fully open model (data and recipe public); six European languages.",
    ),
    # https://huggingface.co/bartowski/Llama-3.2-3B-Instruct-GGUF (kept from the 2024 list; bytes re-checked).
    CatalogueEntry(
        name="llama-3.2-3b-instruct", title="Llama 3.2 3B Instruct", repo_id="bartowski/Llama-3.2-3B-Instruct-GGUF",
        filename="Llama-3.2-3B-Instruct-Q4_K_M.gguf", approx_size=2_019_377_696, context_length=131_072,
        license="Llama 3.2 Community License", params="3B", architecture="llama",
        base_repo="meta-llama/Llama-3.2-3B-Instruct", layers=28, kv_heads=8, head_dim=128,
        description="Noticeably better answers than 1B; long context.",
    ),
    # https://huggingface.co/ibm-granite/granite-4.0-micro-GGUF (IBM's own GGUF, apache-2.0, 128K context,
    # chat template; a dense model that llama.cpp runs as its granite architecture).
    CatalogueEntry(
        name="granite-4.0-micro", title="Granite 4.0 Micro", repo_id="ibm-granite/granite-4.0-micro-GGUF",
        filename="granite-4.0-micro-Q4_K_M.gguf", approx_size=2_099_502_528, context_length=131_072,
        license="Apache-2.0", params="3B", architecture="granite", base_repo="ibm-granite/granite-4.0-micro",
        layers=40, kv_heads=8, head_dim=64,
        description="IBM's enterprise model, tuned for RAG and following instructions.",
    ),
    # https://huggingface.co/ggml-org/gemma-3-4b-it-GGUF (file list: 2.49 GB, licence gemma, chat template;
    # the image encoder is a separate file ragdesk does not need).
    CatalogueEntry(
        name="gemma-3-4b-it", title="Gemma 3 4B Instruct", repo_id="ggml-org/gemma-3-4b-it-GGUF",
        filename="gemma-3-4b-it-Q4_K_M.gguf", approx_size=2_489_757_856, context_length=131_072,
        license="Gemma Terms of Use", params="4B", architecture="gemma3", base_repo="google/gemma-3-4b-it",
        layers=34, kv_heads=4, head_dim=256,
        description="Strong writing and many languages; long context (no system prompt role).",
    ),
    # https://huggingface.co/unsloth/Phi-4-mini-instruct-GGUF (MIT, phi3, 128K context, chat template;
    # bytes as pinned by two public projects).
    CatalogueEntry(
        name="phi-4-mini-instruct", title="Phi-4 mini Instruct", repo_id="unsloth/Phi-4-mini-instruct-GGUF",
        filename="Phi-4-mini-instruct-Q4_K_M.gguf", approx_size=2_491_874_272, context_length=131_072,
        license="MIT", params="3.8B", architecture="phi3", base_repo="microsoft/Phi-4-mini-instruct",
        layers=32, kv_heads=8, head_dim=128,
        description="Microsoft's small reasoner: strong at maths and logic.",
    ),
    # https://huggingface.co/unsloth/Qwen3-4B-Instruct-2507-GGUF (apache-2.0; GGUF metadata: 36 blocks,
    # 8 KV heads, key length 128, context 262144, chat template without a thinking phase).
    CatalogueEntry(
        name="qwen3-4b-instruct-2507", title="Qwen3 4B Instruct 2507", repo_id="unsloth/Qwen3-4B-Instruct-2507-GGUF",
        filename="Qwen3-4B-Instruct-2507-Q4_K_M.gguf", approx_size=2_497_281_120, context_length=262_144,
        license="Apache-2.0", params="4B", architecture="qwen3", base_repo="Qwen/Qwen3-4B-Instruct-2507",
        layers=36, kv_heads=8, head_dim=128,
        description="The best answers of the list; wants about 4 GB of memory.",
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


def for_source(source: str) -> CatalogueEntry | None:
    """The catalogue entry whose pulled file has this registry ``source``, or None."""
    return next((e for e in CATALOGUE if e.source == source), None)


def not_downloaded(installed_sources: Iterable[str]) -> list[CatalogueEntry]:
    """Catalogue entries whose file is not among the registry's ``source`` values yet."""
    have = set(installed_sources)
    return [e for e in CATALOGUE if e.source not in have]
