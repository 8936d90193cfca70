"""``ragdesk models list|pull|add|rm`` through click, on a real data folder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.fake_hub import FakeHub, write_gguf, write_lora

import ragdesk.cli.models_cmds  # noqa: F401  (registers the group until ragdesk.cli imports it)
from ragdesk.cli.root import cli
from ragdesk.llm import builtin, catalogue


@pytest.fixture
def run(tmp_path):
    home = tmp_path / "cli-home"

    def invoke(*args: str):
        result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
        return result

    invoke.home = home
    return invoke


def listed(run) -> dict[str, dict]:
    result = run("models", "list", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_list_shows_builtins_and_the_catalogue(run):
    rows = listed(run)
    for found in builtin.discover():
        assert rows[found.name]["builtin"] and rows[found.name]["status"] == "installed"
        assert rows[found.name]["license"] == found.license
    for item in catalogue.CATALOGUE:
        row = rows[item.name]
        assert row["status"] == "available" and row["size_approx"] and row["path"] is None
        assert (row["repo_id"], row["filename"], row["license"]) == (item.repo_id, item.filename, item.license)
    assert [r["name"] for r in rows.values() if r["default"]] in ([], ["smollm2-135m-instruct"])
    text = run("models", "list").stdout
    assert "Available (ragdesk models pull NAME)" in text and "qwen3-0.6b" in text
    if any(b.name == "gemma-3-270m" for b in builtin.discover()):
        assert "Gemma Terms of Use" in text


def test_add_list_and_remove(run, tmp_path):
    model = write_gguf(tmp_path / "Mine-Q8_0.gguf")
    result = run("models", "add", str(model), "--name", "mine", "--license", "MIT")
    assert result.exit_code == 0 and "Added model 'mine' (llama" in result.stdout
    lora = run("models", "add", str(write_lora(tmp_path / "style.gguf")), "--base", "mine", "--json")
    assert lora.exit_code == 0
    assert json.loads(lora.stdout)["kind"] == "adapter" and json.loads(lora.stdout)["base_model"] == "mine"
    rows = listed(run)
    assert rows["mine"]["license"] == "MIT" and rows["mine"]["path"] == str(model.resolve())
    assert run("models", "list", "--kind", "adapter", "--json").stdout.count('"name"') == 1
    result = run("models", "rm", "mine")
    assert result.exit_code == 0 and "was left in place" in result.stdout
    assert model.exists() and "mine" not in listed(run)


def test_user_errors_are_one_line_without_traceback(run, tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"\x00" * 100)
    for args, message in [
        (("models", "add", str(junk)), "junk.gguf is not a GGUF file"),
        (("models", "rm", "nothing"), "no model or adapter named 'nothing'"),
        (("models", "pull", "not-in-catalogue"), "is not in the catalogue"),
        (("models", "pull", "qwen3-0.6b"), "could not reach huggingface.co"),  # the suite is offline
    ]:
        result = run(*args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("Error: ") and message in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_rm_of_a_builtin_is_refused(run):
    if not builtin.discover():
        pytest.skip("no built-in model installed")
    result = run("models", "rm", builtin.discover()[0].name)
    assert result.exit_code == 1 and "is built in" in result.stderr


def test_pull_from_the_hub_with_progress(run, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    item = catalogue.find("qwen3-1.7b")
    payload = write_gguf(tmp_path / "m.gguf", extra_floats=50_000).read_bytes()
    with FakeHub() as hub:
        hub.add(item.repo_id, item.filename, payload)
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)  # read at call time, not at import
        result = run("models", "pull", item.name)
    assert result.exit_code == 0, result.output
    assert f"Pulled '{item.name}'" in result.stdout and "Licence: Apache-2.0" in result.stdout
    assert item.name in result.stderr and f"{len(payload) / 1e3:.1f}/{len(payload) / 1e3:.1f} kB" in result.stderr
    row = listed(run)[item.name]
    assert row["status"] == "installed" and row["size"] == len(payload) and row["source"] == item.source
    assert row["path"].startswith(str(run.home))
    result = run("models", "rm", item.name)
    assert result.exit_code == 0 and "deleted" in result.stdout
    assert listed(run)[item.name]["status"] == "available"
