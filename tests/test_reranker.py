"""The optional reranker: a real (tiny, random) cross-encoder reorders search candidates by its own scores."""

from __future__ import annotations

import json
from pathlib import Path

import apsw
import pytest
from click.testing import CliRunner
from support.tiny_cross_encoder import build_tiny_cross_encoder

from ragdesk import db, migrations, paths
from ragdesk.cli import cli
from ragdesk.llm.registry import InvalidModelFile, ModelRegistry, WrongModelKind
from ragdesk.reranker import Reranker, RerankerError, clamp_top_n, inspect_folder

TEXTS = [
    "The capital of France is Paris, a city on the river Seine.",
    "Water boils at 100 degrees Celsius at sea level.",
    "A LoRA adapter changes a few weights of the model.",
    "The quick brown fox jumps over the lazy dog.",
    "In 1969 people walked on the Moon for the first time.",
    "Local language models run on your own computer.",
    "There are 7 days in a week and 12 months in a year.",
    "The knowledge store keeps chunks of text and their embeddings.",
]
QUERY = "Where is the capital of France?"


@pytest.fixture(scope="session")
def tiny_reranker(tmp_path_factory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-reranker") / "tiny-reranker")


@pytest.fixture
def indexed(store, tmp_path):
    folder = tmp_path / "facts"
    folder.mkdir()
    for i, text in enumerate(TEXTS):
        (folder / f"fact{i}.txt").write_text(text, encoding="utf-8")
    store.index([folder])
    return store


def test_inspect_folder_accepts_a_cross_encoder_and_refuses_the_rest(tiny_reranker, tmp_path):
    facts = inspect_folder(tiny_reranker)
    assert facts.architecture == "BertForSequenceClassification" and facts.size > 10_000
    with pytest.raises(RerankerError, match="not a folder"):
        inspect_folder(tiny_reranker / "config.json")
    classifier = tmp_path / "classifier"
    classifier.mkdir()
    config = json.loads((tiny_reranker / "config.json").read_text())
    (classifier / "config.json").write_text(json.dumps({**config, "id2label": {"0": "no", "1": "yes"}}))
    with pytest.raises(RerankerError, match="2 outputs"):
        inspect_folder(classifier)
    (classifier / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    with pytest.raises(RerankerError, match="not a cross-encoder"):
        inspect_folder(classifier)
    (classifier / "config.json").write_text(json.dumps(config))
    with pytest.raises(RerankerError, match="no tokenizer"):
        inspect_folder(classifier)
    assert [clamp_top_n(n) for n in (5, 30, 99)] == [20, 30, 50]


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_the_reranker_orders_candidates_by_its_own_scores(indexed, tiny_reranker):
    from sentence_transformers import CrossEncoder

    plain = indexed.search(QUERY, k=8, mode="hybrid", rerank=False)
    assert len(plain) == 8
    # The scores the model itself gives, computed apart from ragdesk.
    model = CrossEncoder(str(tiny_reranker), device="cpu")
    expected = dict(zip((h.chunk_id for h in plain), model.predict([(QUERY, h.text) for h in plain])))
    assert len({round(float(s), 6) for s in expected.values()}) == 8, "tiny model: scores must differ"

    registry = ModelRegistry(indexed.conn)
    entry = registry.add_reranker(tiny_reranker, name="tiny-reranker")
    assert entry.kind == "reranker" and entry.exists and registry.resolve_reranker("tiny-reranker") == entry
    indexed.settings.reranker = "tiny-reranker"
    reranked = indexed.search(QUERY, k=5, mode="hybrid")  # hybrid reranks by default once one is chosen
    want = sorted(plain, key=lambda h: -expected[h.chunk_id])[:5]
    assert [h.chunk_id for h in reranked] == [h.chunk_id for h in want]
    assert [h.score for h in reranked] == pytest.approx([float(expected[h.chunk_id]) for h in want], abs=1e-5)
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)
    # The cosine similarity is kept for relevance thresholds.
    similarity = {h.chunk_id: h.similarity for h in plain}
    assert all(h.similarity == pytest.approx(similarity[h.chunk_id]) for h in reranked)
    # Other modes rerank only when asked; --no-rerank never does.
    assert indexed.search(QUERY, k=5, mode="bm25") == indexed.search(QUERY, k=5, mode="bm25", rerank=False)
    assert [h.chunk_id for h in indexed.search(QUERY, k=8, mode="hybrid", rerank=False)] == \
        [h.chunk_id for h in plain]
    # Only the first N candidates are reordered; the rest keep their places.
    tail = Reranker(tiny_reranker).rerank(QUERY, plain, top_n=3)
    assert tail[3:] == plain[3:] and {h.chunk_id for h in tail[:3]} == {h.chunk_id for h in plain[:3]}


def test_reranking_is_off_until_one_is_installed(indexed, tiny_reranker):
    assert indexed.settings.reranker is None
    assert indexed.search(QUERY, k=4) == indexed.search(QUERY, k=4, rerank=False)
    with pytest.raises(RerankerError, match="no reranker is chosen"):
        indexed.search(QUERY, k=4, rerank=True)
    indexed.settings.reranker = "gone"  # chosen, then removed: searching goes on without it...
    assert indexed.search(QUERY, k=4) == indexed.search(QUERY, k=4, rerank=False)
    with pytest.raises(RerankerError, match="'gone' is not usable"):  # ...unless it is asked for
        indexed.search(QUERY, k=4, rerank=True)
    result = CliRunner().invoke(cli, ["search", QUERY, "--rerank"])
    assert result.exit_code == 1 and "no reranker is chosen" in result.output


def test_rerankers_in_the_registry_and_the_cli(ragdesk_home, tiny_reranker, tmp_path):
    runner = CliRunner()
    added = runner.invoke(cli, ["models", "add", str(tiny_reranker), "--name", "tiny-ce", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["kind"] == "reranker"
    listing = json.loads(runner.invoke(cli, ["models", "list", "--kind", "reranker", "--json"]).stdout)
    assert [(r["name"], r["status"]) for r in listing] == [
        ("tiny-ce", "installed"), ("ms-marco-minilm-l6-v2", "available"), ("bge-reranker-base", "available")]
    conn = db.connect(paths.db_path())
    registry = ModelRegistry(conn)
    with pytest.raises(WrongModelKind, match="'tiny-ce' is a reranker, not a model"):
        registry.resolve("tiny-ce")
    gguf_like = tmp_path / "not-a-reranker"
    gguf_like.mkdir()
    with pytest.raises(InvalidModelFile, match="no readable config.json"):
        registry.add_reranker(gguf_like)
    # A folder by path works without registering it.
    assert registry.resolve_reranker(str(tiny_reranker)).name == "tiny-ce"
    removed = runner.invoke(cli, ["models", "rm", "tiny-ce"])
    assert removed.exit_code == 0 and tiny_reranker.is_dir()  # not in the data folder: left in place
    conn.close()


def test_migration_keeps_models_and_allows_the_reranker_kind(tmp_path):
    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    for _name, fn in migrations.MIGRATIONS[:4]:  # a database as ragdesk wrote it before rerankers
        fn(conn)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO models (name, kind, path, meta, added_at) VALUES ('m', 'model', '/m.gguf', '{}', 1)")
    with pytest.raises(apsw.ConstraintError):
        conn.execute("INSERT INTO models (name, kind, path, added_at) VALUES ('r', 'reranker', '/r', 1)")
    assert migrations.apply(conn)[0] == "m005_reranker_kind"  # and any later ones
    assert conn.execute("SELECT name, kind, path FROM models").fetchall() == [("m", "model", "/m.gguf")]
    conn.execute("INSERT INTO models (name, kind, path, added_at) VALUES ('r', 'reranker', '/r', 1)")
    with pytest.raises(apsw.ConstraintError):
        conn.execute("INSERT INTO models (name, kind, path, added_at) VALUES ('x', 'other', '/x', 1)")
    conn.close()


# ------------------------------------------------------------------ pulling from the stand-in hub

REPO = "someone/tiny-reranker"


@pytest.fixture
def hub(monkeypatch, tiny_reranker):
    """The stand-in hub serving the tiny reranker as a published repository, with files a pull must skip."""
    from huggingface_hub import constants
    from support.fake_hub import FakeHub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with FakeHub() as server:
        for file in tiny_reranker.iterdir():
            server.add(REPO, file.name, file.read_bytes(), lfs=file.suffix == ".safetensors")
        server.add(REPO, "README.md", b"# tiny reranker\n", lfs=False)
        server.add(REPO, "pytorch_model.bin", b"pickled weights are never fetched")
        server.add(REPO, "onnx/model.onnx", b"nor ONNX exports")
        yield server


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_pull_a_reranker_through_snapshot_download(hub, ragdesk_home, tiny_reranker):
    from ragdesk.llm.reranker_pull import pull_reranker

    conn = db.connect(paths.db_path())
    registry = ModelRegistry(conn)
    seen = []
    entry = pull_reranker(REPO, registry=registry, endpoint=hub.endpoint, progress=lambda d, t: seen.append(d))
    assert entry.kind == "reranker" and entry.name == "tiny-reranker" and entry.source == f"hf:{REPO}"
    assert entry.path.is_relative_to(paths.models_dir())
    assert sorted(p.name for p in entry.path.iterdir()) == sorted(p.name for p in tiny_reranker.iterdir())
    assert (entry.path / "model.safetensors").read_bytes() == (tiny_reranker / "model.safetensors").read_bytes()
    assert seen and seen[-1] >= (tiny_reranker / "model.safetensors").stat().st_size
    fetched = {r.path.rsplit("/", 1)[-1] for r in hub.gets() if "/resolve/" in r.path}
    assert fetched.isdisjoint({"pytorch_model.bin", "model.onnx", "README.md"})
    # It loads and scores, and a second pull needs no network.
    assert len(Reranker(entry.path).scores(QUERY, TEXTS[:2])) == 2
    assert pull_reranker(REPO, registry=registry, endpoint="http://127.0.0.1:9") == entry
    registry.remove(entry.name)
    assert not entry.path.exists()  # pulled into the data folder: removing deletes it
    conn.close()


def test_pull_reranker_errors_are_clear(hub, ragdesk_home, monkeypatch):
    from ragdesk.llm.download import DownloadError, HubUnreachable, RemoteFileNotFound
    from ragdesk.llm.reranker_pull import pull_reranker

    conn = db.connect(paths.db_path())
    registry = ModelRegistry(conn)
    with pytest.raises(RemoteFileNotFound, match="no repository 'someone/missing'"):
        pull_reranker("someone/missing", registry=registry, endpoint=hub.endpoint)
    with pytest.raises(DownloadError, match="not a known reranker"):
        pull_reranker("fancy-reranker", registry=registry, endpoint=hub.endpoint)
    hub.add("someone/not-a-reranker", "config.json", json.dumps({"architectures": ["BertModel"]}).encode(), lfs=False)
    with pytest.raises(InvalidModelFile, match="not a usable reranker: .*not a cross-encoder"):
        pull_reranker("someone/not-a-reranker", registry=registry, endpoint=hub.endpoint)
    assert registry.list("reranker") == [] and not (paths.models_dir() / "rerankers" / "someone--not-a-reranker").exists()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnreachable, match="offline mode is on"):
        pull_reranker(REPO, registry=registry, endpoint=hub.endpoint)
    conn.close()


def test_cli_pull_by_catalogue_name_uses_the_reranker_kind(hub, ragdesk_home, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    result = CliRunner().invoke(cli, ["models", "pull", "--kind", "reranker", REPO, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kind"] == "reranker"
    # A catalogue name needs no --kind; the stand-in hub has no such repository: a clear error.
    missing = CliRunner().invoke(cli, ["models", "pull", "ms-marco-minilm-l6-v2"])
    assert missing.exit_code == 1 and "cross-encoder/ms-marco-MiniLM-L6-v2" in missing.output


def test_settings_dialog_offers_installed_rerankers_and_off(qtbot):
    from ragdesk.settings import Settings
    from ragdesk.ui.settings.settings_dialog import SettingsDialog

    none = SettingsDialog(Settings())
    qtbot.addWidget(none)
    assert none.reranker.count() == 1 and not none.reranker.isEnabled() and not none.rerank_top_n.isEnabled()
    assert none.result_settings().reranker is None

    dialog = SettingsDialog(Settings(reranker="ce-a", rerank_top_n=99), rerankers=["ce-a", "ce-b"])
    qtbot.addWidget(dialog)
    assert [dialog.reranker.itemText(i) for i in range(dialog.reranker.count())] == ["Off", "ce-a", "ce-b"]
    assert dialog.reranker.currentText() == "ce-a" and dialog.rerank_top_n.value() == 50
    dialog.reranker.setCurrentIndex(2)
    dialog.rerank_top_n.setValue(20)
    chosen = dialog.result_settings()
    assert (chosen.reranker, chosen.rerank_top_n) == ("ce-b", 20)
    dialog.reranker.setCurrentIndex(0)
    assert dialog.result_settings().reranker is None and not dialog.rerank_top_n.isEnabled()
    # A chosen reranker that is gone stays visible, so saving does not silently drop it.
    stale = SettingsDialog(Settings(reranker="gone"), rerankers=["ce-a"])
    qtbot.addWidget(stale)
    assert stale.reranker.currentText() == "gone (not installed)" and stale.result_settings().reranker == "gone"
