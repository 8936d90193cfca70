"""The model registry: GGUF models, LoRA adapters and rerankers ragdesk knows about.

Two sources are merged: the built-in models that ship as Python packages
(discovered, never stored) and the rows of the ``models`` table (files the user
pulled from the hub or added from disk). Everything here works offline.

Adding a file reads only its GGUF header (:mod:`ragdesk.llm.model_files`). A
reranker is a folder (a cross-encoder as transformers saves it), not a GGUF file;
adding one reads only its config (:func:`ragdesk.reranker.inspect_folder`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import apsw

from ragdesk import db, paths
from ragdesk.llm.model_files import (  # noqa: F401 - the errors are part of the registry's API
    BuiltinModelError,
    DuplicateModel,
    FileFacts,
    IncompatibleAdapter,
    InvalidModelFile,
    ModelError,
    ModelFileMissing,
    ModelNotFound,
    WrongModelKind,
    check_adapter_fits,
    inspect_file,
)

DEFAULT_MODEL = "smollm2-135m-instruct"
KINDS = ("model", "adapter", "reranker")
KIND_WORDS = {"model": "a model", "adapter": "a LoRA adapter", "reranker": "a reranker"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+@-]{0,127}$")


# ------------------------------------------------------------------ registry


@dataclass(frozen=True)
class ModelEntry:
    """One model, LoRA adapter or reranker: where its GGUF file (a reranker's folder) is and what it is."""

    name: str
    kind: str  # "model" | "adapter" | "reranker"
    path: Path
    base_model: str | None = None
    architecture: str | None = None
    size: int = 0
    sha256: str | None = None
    source: str = "local"  # "local", "file", "builtin:<package>", "hf:<repo_id>/<filename>"
    license: str | None = None
    builtin: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.path.is_dir() if self.kind == "reranker" else self.path.is_file()

    @property
    def registered(self) -> bool:
        """False for a file resolved by path that is not in the registry."""
        return self.meta.get("registered", True)

    def to_json(self) -> dict:
        """The stable ``--json`` form (keys may be added, none renamed)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "path": str(self.path),
            "base_model": self.base_model,
            "architecture": self.architecture,
            "size": self.size,
            "sha256": self.sha256,
            "source": self.source,
            "license": self.license,
            "builtin": self.builtin,
            "default": self.name == DEFAULT_MODEL,
            "exists": self.exists,
            "meta": self.meta,
        }


def _from_row(row: dict) -> ModelEntry:
    return ModelEntry(
        name=row["name"], kind=row["kind"], path=Path(row["path"]), base_model=row["base_model"],
        architecture=row["architecture"], size=row["size"] or 0, sha256=row["sha256"],
        source=row["source"] or "local", license=row["license"], builtin=False,
        meta=json.loads(row["meta"] or "{}"),
    )


def default_name(path: Path) -> str:
    """A registry name from a file name: ``Qwen2.5-0.5B-Instruct-Q4_K_M.gguf`` -> ``qwen2.5-0.5b-instruct-q4_k_m``."""
    stem = path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.stem
    slug = re.sub(r"[^a-z0-9._+-]+", "-", stem.lower()).strip("-.")
    return slug or "model"


def is_managed(path: Path) -> bool:
    """Whether a file lives in ragdesk's own models/adapters folders (so removing deletes it)."""
    path = Path(path).resolve()
    return any(path.is_relative_to(d.resolve()) for d in (paths.models_dir(), paths.adapters_dir()))


class ModelRegistry:
    """Registered and built-in models over one database connection (safe to share between threads)."""

    def __init__(self, conn: apsw.Connection):
        self.conn = conn

    # -- reading
    def builtins(self) -> list[ModelEntry]:
        from ragdesk.llm import builtin

        return [
            ModelEntry(
                name=b.name, kind="model", path=b.path, architecture=b.architecture, size=b.size,
                sha256=b.sha256, source=f"builtin:{b.package}", license=b.license, builtin=True,
                meta=dict(b.meta),
            )
            for b in builtin.discover()
        ]

    def list(self, kind: str | None = None) -> list[ModelEntry]:
        """Built-ins first (the default leading), then registered entries by name."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        entries = self.builtins() if kind in (None, "model") else []
        sql = "SELECT * FROM models" + (" WHERE kind = ?" if kind else "") + " ORDER BY name"
        entries += [_from_row(r) for r in db.rows(self.conn, sql, (kind,) if kind else ())]
        return entries

    def get(self, name: str) -> ModelEntry:
        """The entry called ``name``; ModelNotFound (listing what exists) otherwise."""
        for entry in self.builtins():
            if entry.name == name:
                return entry
        found = db.rows(self.conn, "SELECT * FROM models WHERE name = ?", (name,))
        if found:
            return _from_row(found[0])
        names = [e.name for e in self.list()]
        if names:
            raise ModelNotFound(f"no model or adapter named '{name}'; known: {', '.join(names)}.")
        raise ModelNotFound(
            f"no model or adapter named '{name}', and none is installed; "
            "add one with `ragdesk models add PATH` or `ragdesk models pull NAME`."
        )

    def find_by_path(self, path: str | os.PathLike) -> ModelEntry | None:
        target = Path(path).resolve()
        for entry in self.list():
            if entry.path.resolve() == target:
                return entry
        return None

    def find_by_source(self, source: str) -> ModelEntry | None:
        rows = db.rows(self.conn, "SELECT * FROM models WHERE source = ? ORDER BY id", (source,))
        return _from_row(rows[0]) if rows else None

    def resolve(self, name_or_path: str | os.PathLike | None, kind: str = "model") -> ModelEntry:
        """The entry to load: by name, by path to a .gguf file, or (None) the default model.

        A path that is not registered is read and returned without registering it
        (``entry.registered`` is False). The returned entry's file exists; a built-in
        model that must be assembled first is assembled here, once.
        """
        if name_or_path is None:
            if kind != "model":
                raise ModelNotFound("no adapter was chosen.")
            entry = self._default()
        else:
            text = str(name_or_path)
            is_path = isinstance(name_or_path, os.PathLike) or os.sep in text or text.lower().endswith(".gguf")
            if is_path and not self._has_name(text):
                entry = self._entry_for_path(Path(text).expanduser())
            else:
                entry = self.get(text)
        if entry.kind != kind:
            raise WrongModelKind(f"'{entry.name}' is {KIND_WORDS[entry.kind]}, not {KIND_WORDS.get(kind, kind)}.")
        if entry.builtin:
            from ragdesk.llm import builtin

            path = builtin.materialize(entry.name)  # assembles a chunked model once
            entry = next((e for e in self.builtins() if e.name == entry.name), replace(entry, path=path))
        if not entry.exists:
            raise ModelFileMissing(
                f"the file of '{entry.name}' is missing ({entry.path}); "
                f"remove it with `ragdesk models rm {entry.name}` or add the file again."
            )
        return entry

    def resolve_reranker(self, name_or_path: str | os.PathLike) -> ModelEntry:
        """An installed reranker by name, or a reranker folder by path (checked, not registered)."""
        from ragdesk.reranker import RerankerError, inspect_folder

        text = str(name_or_path)
        if not self._has_name(text) and Path(text).expanduser().is_dir():
            folder = Path(text).expanduser().resolve()
            if (known := self.find_by_path(folder)) is not None:
                return self._check_reranker(known)
            try:
                facts = inspect_folder(folder)
            except RerankerError as exc:
                raise WrongModelKind(str(exc)) from None
            return ModelEntry(name=folder.name, kind="reranker", path=folder, architecture=facts.architecture,
                              size=facts.size, source="file", meta={"registered": False})
        return self._check_reranker(self.get(text))

    def _check_reranker(self, entry: ModelEntry) -> ModelEntry:
        if entry.kind != "reranker":
            raise WrongModelKind(f"'{entry.name}' is {KIND_WORDS[entry.kind]}, not a reranker.")
        if not entry.exists:
            raise ModelFileMissing(f"the folder of reranker '{entry.name}' is missing ({entry.path}); "
                                   f"remove it with `ragdesk models rm {entry.name}` or pull it again.")
        return entry

    def adapters_for(self, model_name: str) -> list[ModelEntry]:
        """Adapters made for ``model_name``, and adapters with no base whose architecture matches."""
        model = self.get(model_name)
        return [
            a for a in self.list("adapter")
            if a.base_model == model.name
            or (a.base_model is None and a.architecture is not None and a.architecture == model.architecture)
        ]

    # -- writing
    def add(
        self,
        path: str | os.PathLike,
        *,
        name: str | None = None,
        kind: str | None = None,
        base_model: str | None = None,
        source: str = "local",
        license: str | None = None,
        copy: bool = False,
        sha256: str | None = None,
        meta: dict | None = None,
    ) -> ModelEntry:
        """Register a GGUF file (validated first); ``copy`` puts a copy in the data folder."""
        path = Path(path).expanduser().resolve()
        facts = inspect_file(path)
        if kind is not None and kind != facts.kind:
            words = {"model": "a model", "adapter": "a LoRA adapter"}
            raise WrongModelKind(f"{path.name} is {words[facts.kind]}, not {words.get(kind, kind)}.")
        if (other := self.find_by_path(path)) is not None:
            raise DuplicateModel(f"{path} is already registered as '{other.name}'.")
        name = name or default_name(path)
        self.check_name(name)
        if base_model is not None:
            self._check_base(base_model, path, facts)
        if copy:
            path, sha256 = self._copy_in(path, facts.kind)
        entry = ModelEntry(
            name=name, kind=facts.kind, path=path, base_model=base_model, architecture=facts.architecture,
            size=path.stat().st_size, sha256=sha256, source=source, license=license or facts.license,
            meta=facts.meta | (meta or {}),
        )
        try:
            with db.transaction(self.conn):
                self.conn.execute(
                    "INSERT INTO models (name, kind, path, base_model, architecture, size, sha256, source,"
                    " license, meta, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (entry.name, entry.kind, str(entry.path), entry.base_model, entry.architecture, entry.size,
                     entry.sha256, entry.source, entry.license, json.dumps(entry.meta), time.time()),
                )
        except apsw.ConstraintError:  # another thread or process took the name since check_name
            if copy:
                path.unlink(missing_ok=True)
            raise DuplicateModel(f"a model named '{name}' already exists; choose another name (--name).") from None
        return entry

    def add_reranker(
        self,
        path: str | os.PathLike,
        *,
        name: str | None = None,
        source: str = "local",
        license: str | None = None,
        meta: dict | None = None,
    ) -> ModelEntry:
        """Register a reranker folder (checked first: a one-output cross-encoder with tokenizer and weights)."""
        from ragdesk.reranker import RerankerError, inspect_folder

        folder = Path(path).expanduser().resolve()
        try:
            facts = inspect_folder(folder)
        except RerankerError as exc:
            raise InvalidModelFile(str(exc)) from None
        if (other := self.find_by_path(folder)) is not None:
            raise DuplicateModel(f"{folder} is already registered as '{other.name}'.")
        name = name or default_name(folder)
        self.check_name(name)
        entry = ModelEntry(name=name, kind="reranker", path=folder, architecture=facts.architecture,
                           size=facts.size, source=source, license=license, meta=meta or {})
        try:
            with db.transaction(self.conn):
                self.conn.execute(
                    "INSERT INTO models (name, kind, path, architecture, size, source, license, meta, added_at)"
                    " VALUES (?, 'reranker', ?, ?, ?, ?, ?, ?, ?)",
                    (entry.name, str(folder), entry.architecture, entry.size, entry.source, entry.license,
                     json.dumps(entry.meta), time.time()),
                )
        except apsw.ConstraintError:
            raise DuplicateModel(f"a model named '{name}' already exists; choose another name (--name).") from None
        return entry

    def remove(self, name: str, *, delete_file: bool = True) -> None:
        """Unregister ``name``; its file is deleted only if it lives in ragdesk's data folder."""
        entry = self.get(name)
        if entry.builtin:
            package = entry.source.split(":", 1)[1]
            raise BuiltinModelError(f"'{name}' is built in (it ships with the {package} package) and cannot be removed.")
        with db.transaction(self.conn):
            self.conn.execute("DELETE FROM models WHERE name = ?", (name,))
        if delete_file and is_managed(entry.path):
            if entry.path.is_dir():  # a reranker's folder
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                entry.path.unlink(missing_ok=True)
            parent = entry.path.parent.resolve()
            roots = (paths.models_dir().resolve(), paths.adapters_dir().resolve())
            if parent.is_dir() and parent not in roots and not any(parent.iterdir()):
                parent.rmdir()  # the per-repo folder of a pulled model

    # -- helpers
    def _has_name(self, name: str) -> bool:
        return any(e.name == name for e in self.builtins()) or bool(
            db.scalar(self.conn, "SELECT 1 FROM models WHERE name = ?", (name,))
        )

    def _default(self) -> ModelEntry:
        models = self.list("model")
        for entry in models:
            if entry.name == DEFAULT_MODEL:
                return entry
        if models:
            return models[0]
        raise ModelNotFound(
            "no model is installed; pull one with `ragdesk models pull NAME` or add a GGUF file "
            "with `ragdesk models add PATH`."
        )

    def _entry_for_path(self, path: Path) -> ModelEntry:
        if (known := self.find_by_path(path)) is not None:
            return known
        if not path.is_file():
            raise ModelNotFound(f"no model named '{path}', and no such file.")
        facts = inspect_file(path)
        return ModelEntry(
            name=default_name(path), kind=facts.kind, path=path.resolve(), architecture=facts.architecture,
            size=path.stat().st_size, source="file", license=facts.license,
            meta=facts.meta | {"registered": False},
        )

    def check_name(self, name: str) -> None:
        """Raise unless ``name`` is a valid name that no model or adapter uses yet."""
        if not _NAME_RE.match(name):
            raise ModelError(
                f"'{name}' is not a usable name: use letters, digits and . _ - + : @ (no spaces or slashes)."
            )
        if any(e.name == name for e in self.builtins()):
            raise BuiltinModelError(f"'{name}' is the name of a built-in model; choose another name.")
        if db.scalar(self.conn, "SELECT path FROM models WHERE name = ?", (name,)) is not None:
            raise DuplicateModel(f"a model named '{name}' already exists; choose another name (--name).")

    def _check_base(self, base_model: str, path: Path, facts: FileFacts) -> None:
        """Refuse an adapter that llama.cpp would refuse for this base (architecture, tensor shapes)."""
        base = self.get(base_model)
        if base.kind != "model":
            raise WrongModelKind(f"the base '{base_model}' is a LoRA adapter, not a model.")
        if facts.kind != "adapter":
            raise WrongModelKind(f"{path.name} is a model; only LoRA adapters have a base model.")
        if not base.exists:  # e.g. a built-in not assembled yet: the architecture is all we know
            if base.architecture and facts.architecture != base.architecture:
                raise IncompatibleAdapter(
                    f"{path.name} was made for {facts.architecture} but '{base_model}' is {base.architecture}."
                )
            return
        check_adapter_fits(path, base.path)

    def _copy_in(self, source: Path, kind: str) -> tuple[Path, str]:
        folder = paths.adapters_dir() if kind == "adapter" else paths.models_dir()
        target = folder / source.name
        n = 1
        while target.exists():
            n += 1
            target = folder / f"{source.stem}-{n}{source.suffix}"
        tmp = target.with_name(target.name + ".copying")
        digest = hashlib.sha256()
        try:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                while block := src.read(1 << 20):
                    digest.update(block)
                    dst.write(block)
            shutil.copystat(source, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)  # only left behind when the copy failed
        return target, digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
