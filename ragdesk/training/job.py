"""A training job end to end: collection -> data -> LoRA training -> llama.cpp adapter -> registry.

The CLI and the GUI both call :func:`run_job`. A run lives in
``training_dir()/<name>/``: ``run.json`` (what was asked), ``qa_pairs.json``
(the question/answer pairs, so a resumed run trains on the same ones),
``checkpoint/`` and, once finished, ``adapter/`` (the PEFT adapter). The
converted adapter is ``adapters_dir()/<name>.gguf``, registered for the GGUF
model it was trained for.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragdesk import paths
from ragdesk.training import (
    EmptyCollectionError,
    ResumeError,
    TrainingError,
    check_method,
)
from ragdesk.training.trainer import Progress, TrainConfig, TrainResult

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,127}$")  # adapter and run names; also a safe folder name
RUN_FILE, PAIRS_FILE = "run.json", "qa_pairs.json"


@dataclass
class TrainRequest:
    """What to train. ``None`` fields take the resumed run's value, else the default.

    ``options`` holds :class:`TrainConfig` fields (``rank``, ``epochs``,
    ``max_steps``, ``learning_rate``...). ``model`` is the GGUF the adapter is
    for (name or path); by default the base itself when it is a GGUF, else the
    model in use. ``qa_pairs`` (question/answer tuples, dicts or ``QAPair``)
    replace generated ones.
    """

    name: str
    collection: str | None = None
    base: str | None = None
    model: str | None = None
    method: str | None = None
    options: dict = field(default_factory=dict)
    block_size: int | None = None
    n_qa: int | None = None
    heldout_fraction: float | None = None
    qa_pairs: Sequence[Any] | None = None
    resume: bool = False


@dataclass
class JobResult:
    """How a job ended (``completed`` or ``cancelled``) and what it made."""

    name: str
    status: str
    method: str
    base: str
    base_model: str
    run_dir: str
    adapter_path: str | None
    registered: bool
    n_train_examples: int
    n_heldout_examples: int
    n_text_blocks: int
    n_qa_pairs: int
    training: TrainResult

    def to_json(self) -> dict:
        data = asdict(self)
        data["training"] = self.training.to_json()
        for key in ("step", "total_steps", "final_loss", "tokens_per_s", "train_loss_before",
                    "train_loss_after", "heldout_loss_before", "heldout_loss_after", "peak_rss_mb"):
            data[key] = data["training"][key]
        return data


def run_dir_for(name: str) -> Path:
    return paths.training_dir() / name


def run_job(
    request: TrainRequest,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancel: Any = None,
    settings=None,
    store=None,
    registry=None,
) -> JobResult:
    """Train, convert and register an adapter; see :class:`TrainRequest`.

    ``store`` (a KnowledgeStore) and ``registry`` (a ModelRegistry) are opened
    on the data folder when not given. Raises :class:`TrainingError`
    subclasses for bad input; a cancel returns a ``cancelled`` result whose
    run ``--resume`` continues.
    """
    from ragdesk.settings import Settings

    settings = settings or Settings.load()
    own_store = store is None
    if own_store:
        from ragdesk.store import KnowledgeStore

        store = KnowledgeStore(settings=settings)
    try:
        if registry is None:
            from ragdesk.llm.registry import ModelRegistry

            registry = ModelRegistry(store.conn)
        return _run(request, progress, cancel, settings, store, registry)
    finally:
        if own_store:
            store.close()


def _say(progress, phase: str, message: str) -> None:
    if progress is not None:
        progress(Progress(0, 0, None, 0.0, None, 0.0, phase, message))


def _run(request: TrainRequest, progress, cancel, settings, store, registry) -> JobResult:
    from ragdesk.training import base_model as bm
    from ragdesk.training.checkpoints import has_checkpoint
    from ragdesk.training.dataset import build_training_data
    from ragdesk.training.trainer import train

    name = request.name
    if not NAME_RE.match(name or ""):
        raise TrainingError(f"{name!r} is not a usable adapter name: use letters, digits and . _ - + @")
    run_dir = run_dir_for(name)
    if not request.resume and has_checkpoint(run_dir):
        raise ResumeError(
            f"a training run named {name!r} already exists; add --resume to continue it "
            "or choose another name"
        )
    stored = _stored_run(run_dir, request)
    method = check_method(_pick(request.method, stored.get("method"), "continued", "method"))
    collection = _pick(request.collection, stored.get("collection"), settings.default_collection, "collection")
    block_size = _pick(request.block_size, stored.get("block_size"), 256, "block size")
    n_qa = _pick(request.n_qa, stored.get("n_qa"), 64, "number of QA pairs")
    heldout = _pick(request.heldout_fraction, stored.get("heldout_fraction"), 0.2, "held-out fraction")
    saved_config = {k: v for k, v in stored.get("config", {}).items() if k != "threads"}
    unknown = set(request.options) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise TrainingError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    config = TrainConfig(**{**saved_config, **request.options})
    if config.threads is None:
        config.threads = settings.n_threads
    out_path = paths.adapters_dir() / f"{name}.gguf"
    existing = _existing_entry(registry, name)
    if existing is not None and not (request.resume and Path(existing.path) == out_path):
        raise TrainingError(f"a model or adapter named {name!r} already exists; choose another name (-o)")

    # Data first: an empty collection should fail before a model is loaded.
    texts: list[str] = []
    if method in ("continued", "both") or (method == "qa" and request.qa_pairs is None):
        texts = _collection_texts(store, collection)
        if not texts:
            raise EmptyCollectionError(
                f"the collection {collection!r} has no text to train on; index some documents first"
            )

    # The base, and the GGUF the adapter will run on; refuse a mismatch up front.
    base_ref = stored["base"]["ref"] if stored and not request.base else request.base
    source = bm.resolve_base(base_ref, registry=registry, default_model=settings.model)
    if stored and source.ref != stored["base"]["ref"]:
        raise ResumeError(f"cannot resume with a different base ({stored['base']['name']} -> {source.name})")
    target_name, target_path = _target_gguf(source, request.model or stored.get("model_path"), registry, settings)
    hf_config = _hf_config(source) if source.kind != "gguf" else None
    # An architecture the adapter cannot be converted for is refused now, not after training.
    arch = bm.check_trainable(source, bm.gguf_shape(target_path), hf_config,
                              weights_hint=_original_weights(registry, source))
    if hf_config is not None:
        bm.check_gguf_matches(hf_config, target_path)
    elif Path(source.ref) != target_path:
        bm.check_gguf_matches(bm.gguf_shape(source.ref), target_path)
    if "target_modules" not in request.options and "target_modules" not in saved_config:
        config.target_modules = arch.lora_targets
    # Questions are written with llama.cpp before torch loads the base, so the
    # two models are never in memory together.
    pairs = _qa_pairs(request, method, run_dir, store, collection, target_path, n_qa, settings, progress, cancel)
    if pairs is None:  # cancelled while the model wrote questions: nothing to resume yet
        return _cancelled_early(name, method, source.name, target_name, run_dir)
    _say(progress, "load", f"loading the base model {source.name}")
    base = bm.load_base(source, log=lambda m: _say(progress, "load", m))
    bm.check_gguf_matches(base.model.config, target_path)
    _say(progress, "data", "preparing the training data")
    data = build_training_data(
        base.tokenizer, method=method, texts=texts, pairs=pairs,
        block_size=block_size, heldout_fraction=heldout, seed=config.seed,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    if not request.resume:
        _write_json(run_dir / RUN_FILE, {
            "name": name, "collection": collection, "method": method,
            "base": asdict(source), "model": target_name, "model_path": str(target_path),
            "config": asdict(config), "block_size": block_size, "n_qa": n_qa,
            "heldout_fraction": heldout, "created_at": time.time(),
        })

    result = train(base.model, base.tokenizer, data, config, run_dir,
                   progress=progress, cancel=cancel, resume=request.resume)
    adapter_path, registered = None, False
    if result.status == "completed":
        _say(progress, "convert", "converting the adapter for llama.cpp")
        adapter_path = _convert(Path(result.adapter_dir), out_path, base.hf_dir, target_path)
        registered = _register(registry, existing, adapter_path, name, target_name, method, result)
    return JobResult(
        name=name, status=result.status, method=method, base=source.name, base_model=target_name,
        run_dir=str(run_dir), adapter_path=str(adapter_path) if adapter_path else None,
        registered=registered, n_train_examples=len(data.train),
        n_heldout_examples=len(data.heldout), n_text_blocks=data.n_text_blocks,
        n_qa_pairs=len(pairs), training=result,
    )


def _cancelled_early(name, method, base, base_model, run_dir) -> JobResult:
    empty = TrainResult(status="cancelled", step=0, total_steps=0, final_loss=None, losses=[],
                        tokens_trained=0, train_seconds=0.0, tokens_per_s=0.0)
    return JobResult(name=name, status="cancelled", method=method, base=base, base_model=base_model,
                     run_dir=str(run_dir), adapter_path=None, registered=False, n_train_examples=0,
                     n_heldout_examples=0, n_text_blocks=0, n_qa_pairs=0, training=empty)


def _stored_run(run_dir: Path, request: TrainRequest) -> dict:
    if not request.resume:
        return {}
    from ragdesk.training.checkpoints import has_checkpoint

    if not (run_dir / RUN_FILE).exists() or not has_checkpoint(run_dir):
        raise ResumeError(f"there is no training run named {request.name!r} to resume")
    try:
        return json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResumeError(f"the run file of {request.name!r} is unreadable: {exc}") from exc


def _pick(given, stored, default, what: str):
    """The request's value, which on resume must agree with the stored one."""
    if given is not None and stored is not None and given != stored:
        raise ResumeError(f"cannot resume with a different {what} ({stored} -> {given})")
    return given if given is not None else stored if stored is not None else default


def _existing_entry(registry, name: str):
    from ragdesk.llm.registry import ModelNotFound

    try:
        return registry.get(name)
    except ModelNotFound:
        return None


def _collection_texts(store, collection: str) -> list[str]:
    """Chunk texts of a collection (the one place that reads the store)."""
    from ragdesk.store.collections import CollectionError

    try:
        return [t for t in store.iter_chunk_texts(collection) if t and t.strip()]
    except CollectionError as exc:
        raise TrainingError(str(exc)) from exc


def _target_gguf(source, model: str | None, registry, settings) -> tuple[str, Path]:
    """Name and path of the GGUF the adapter is for."""
    from ragdesk.llm.registry import ModelError

    if model is None and source.kind == "gguf":
        return source.name, Path(source.ref)
    try:
        entry = registry.resolve(model or settings.model, kind="model")
    except ModelError as exc:
        raise TrainingError(f"cannot find the GGUF model the adapter is for: {exc}") from exc
    return entry.name, Path(entry.path)


def _original_weights(registry, source) -> str | None:
    """The hub id of a catalogue model's original weights, when the GGUF base is one (for messages)."""
    from ragdesk.llm import catalogue
    from ragdesk.llm.registry import ModelError

    if source.kind != "gguf":
        return None
    try:
        known = catalogue.for_source(registry.resolve(source.ref, kind="model").source)
    except ModelError:
        return None
    return known.base_repo if known else None


def _hf_config(source):
    from transformers import AutoConfig

    from ragdesk.training import BaseModelError

    try:
        return AutoConfig.from_pretrained(source.ref)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot load"
        raise BaseModelError(f"cannot read the config of the base model {source.name}: {exc}") from exc


def _qa_pairs(request, method, run_dir, store, collection, gguf_path, n_qa, settings, progress, cancel):
    """The question/answer pairs: given, saved by the run being resumed, or generated.

    Returns None when generation was cancelled (nothing is saved then).
    """
    from ragdesk.training.dataset import as_pair

    if method == "continued":
        return []
    saved = run_dir / PAIRS_FILE
    if request.qa_pairs is not None:
        pairs = [as_pair(p) for p in request.qa_pairs]
    elif request.resume and saved.exists():
        return [tuple(p) for p in json.loads(saved.read_text(encoding="utf-8"))]
    else:
        pairs = _generate_pairs(store, collection, gguf_path, n_qa, settings, progress, cancel)
        if pairs is None:
            return None
    if not pairs and method == "qa":
        raise EmptyCollectionError("no question/answer pairs to train on")
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(saved, [list(p) for p in pairs])
    return pairs


def _generate_pairs(store, collection, gguf_path, n, settings, progress, cancel):
    """Ask the local model (no adapter) to write question/answer pairs from sampled chunks."""
    from ragdesk.llm.engine import Engine
    from ragdesk.qagen import generate_qa_detailed
    from ragdesk.training.trainer import is_cancelled

    # Many replies fail qagen's checks, so offer three chunks per wanted pair.
    chunks = store.sample_chunks(collection, 3 * n, min_tokens=8)
    _say(progress, "data", f"writing up to {n} questions from {len(chunks)} chunks with the local model")

    def report(tried: int, total: int, kept: int) -> None:
        if progress is not None:
            progress(Progress(0, 0, None, 0.0, None, 0.0, "data", f"questions: {kept} kept of {tried}/{total} tried"))

    with Engine(n_ctx=2048, n_threads=settings.n_threads, n_gpu_layers=settings.n_gpu_layers) as engine:
        engine.load(gguf_path)
        result = generate_qa_detailed(engine, chunks, n, progress=report, cancel=lambda: is_cancelled(cancel))
    if result.cancelled:
        return None
    _say(progress, "data", f"{len(result.pairs)} question/answer pairs kept of {result.tried} written")
    if not result.pairs:
        raise EmptyCollectionError(
            f"the local model wrote no usable question/answer pairs ({result.tried} tried); "
            "give pairs with --qa-file or use --method continued"
        )
    return [(p.question, p.answer) for p in result.pairs]


def _convert(peft_dir: Path, out_path: Path, hf_dir: Path, gguf_path: Path) -> Path:
    from ragdesk.llm.lora_import import LoraImportError, import_peft
    from ragdesk.training.base_model import ensure_free_space

    size = sum(f.stat().st_size for f in peft_dir.iterdir() if f.is_file())
    ensure_free_space(out_path.parent, 2 * size + (1 << 20), "the converted adapter")
    try:
        return import_peft(peft_dir, out_path, base_config_dir=hf_dir, base_gguf=gguf_path)
    except LoraImportError as exc:
        raise TrainingError(f"cannot convert the adapter for llama.cpp: {exc}") from exc


def _register(registry, existing, path: Path, name: str, base_model: str, method: str, result) -> bool:
    """Register the adapter for its model (once; a resumed run may have done it)."""
    from ragdesk.llm.registry import ModelError

    if existing is not None:
        return True
    base = None
    try:
        entry = registry.get(base_model)
        base = entry.name if entry.kind == "model" else None
    except ModelError:
        pass  # an unregistered GGUF file: the adapter still records its architecture
    meta = {"trained": {"method": method, "steps": result.step, "final_loss": result.final_loss,
                        "heldout_loss_before": result.heldout_loss_before,
                        "heldout_loss_after": result.heldout_loss_after}}
    try:
        registry.add(path, name=name, kind="adapter", base_model=base, source="trained", meta=meta)
    except ModelError as exc:
        raise TrainingError(f"the adapter was written to {path} but could not be registered: {exc}") from exc
    return True


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
