"""Model files and the errors about them: what a GGUF header says, and whether the file is usable.

Reading only the header (:mod:`ragdesk.llm.gguf_info`, milliseconds; ``gguf.GGUFReader`` takes
seconds because it decodes every tokenizer array) still catches non-GGUF, damaged and truncated
files before llama.cpp sees them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ragdesk.errors import RagdeskError
from ragdesk.llm import gguf_info


class ModelError(RagdeskError):
    """Base class of model and adapter errors; str() is a sentence for the user."""


class ModelNotFound(ModelError):
    """No model or adapter by that name."""


class InvalidModelFile(ModelError):
    """The file is not a usable GGUF file (not GGUF, damaged or truncated)."""


class DuplicateModel(ModelError):
    """The name (or the file) is already registered."""


class WrongModelKind(ModelError):
    """A model was given where an adapter is needed, or the other way round."""


class ModelFileMissing(ModelError):
    """A registered model's file is no longer on disk."""


class IncompatibleAdapter(ModelError):
    """An adapter's architecture does not match the base model it is attached to."""


class BuiltinModelError(ModelError):
    """Built-in models cannot be removed or replaced."""


# ---------------------------------------------------------------- GGUF header


@dataclass(frozen=True)
class FileFacts:
    """What the registry learns from a GGUF header: kind, architecture, licence, a meta summary."""

    kind: str
    architecture: str | None
    license: str | None
    meta: dict


def inspect_file(path: str | os.PathLike) -> FileFacts:
    """Read a GGUF header (milliseconds, no weights) and validate it as a model or a LoRA adapter.

    Non-GGUF, damaged and truncated files raise InvalidModelFile with gguf_info's sentence.
    """
    header = _header(path)
    meta = header.metadata
    licence = meta.get("general.license") if isinstance(meta.get("general.license"), str) else None
    try:
        if meta.get("general.type") == "adapter":
            info = gguf_info.adapter_info_from_header(header)
            summary = {
                "lora_alpha": info.alpha, "lora_rank": info.rank, "n_embd": info.n_embd,
                "made_for": info.base_model, "targets": len(info.targets),
            }
            return FileFacts("adapter", info.architecture, licence, _compact(summary, header))
        model = gguf_info.model_info_from_header(header)
    except (gguf_info.ModelLoadError, gguf_info.AdapterError) as exc:
        raise InvalidModelFile(_sentence(exc)) from None
    summary = {
        "general_name": model.name, "context_length": model.n_ctx_train, "file_type": model.file_type,
        "chat_template": model.chat_template is not None, "n_params": model.n_params,
        "n_vocab": model.n_vocab, "n_embd": model.n_embd, "n_layer": model.n_layer,
    }
    return FileFacts("model", model.architecture, licence, _compact(summary, header))


@dataclass(frozen=True)
class GGUFHeader:
    """A GGUF header's metadata for other modules (long arrays as their lengths)."""

    version: int
    tensor_count: int
    metadata: dict
    array_lengths: dict
    expected_size: int | None

    def get(self, key: str, default=None):
        return self.metadata.get(key, default)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get("general.architecture")

    @property
    def is_adapter(self) -> bool:
        return self.metadata.get("general.type") == "adapter"


def read_gguf_header(path: str | os.PathLike) -> GGUFHeader:
    """Parse a GGUF header (milliseconds); InvalidModelFile if it is not a sound GGUF file."""
    raw = _header(path)
    arrays = {
        key: value.length if isinstance(value, gguf_info.GGUFArray) else len(value)
        for key, value in raw.metadata.items()
        if isinstance(value, (list, gguf_info.GGUFArray))
    }
    plain = {k: v for k, v in raw.metadata.items() if not isinstance(v, gguf_info.GGUFArray)}
    return GGUFHeader(raw.version, len(raw.tensors), plain, arrays, raw.expected_size)


def check_adapter_fits(adapter: str | os.PathLike, base: str | os.PathLike) -> None:
    """Raise IncompatibleAdapter unless the adapter's tensors match the base model's names and shapes."""
    base_header = _header(base)
    try:
        gguf_info.check_adapter_fits(
            gguf_info.adapter_info_from_header(_header(adapter)),
            gguf_info.model_info_from_header(base_header),
            base_header.tensors,
        )
    except gguf_info.AdapterError as exc:
        raise IncompatibleAdapter(_sentence(exc)) from None


def _header(path: str | os.PathLike) -> gguf_info.GGUFHeader:
    try:
        return gguf_info.read_header(path, error=InvalidModelFile)
    except InvalidModelFile as exc:
        raise InvalidModelFile(_sentence(exc)) from None


def _compact(summary: dict, header: gguf_info.GGUFHeader) -> dict:
    summary["gguf_version"] = header.version
    return {k: v for k, v in summary.items() if v is not None}


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text if text.endswith((".", "!", "?")) else text + "."
