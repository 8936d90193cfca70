"""Which catalogue models suit a computer: the memory estimate, the machine's memory, the recommendation."""

from __future__ import annotations

import json

import pytest

from ragdesk.llm import catalogue, machine_fit
from ragdesk.llm.machine_fit import GIB, fits, memory_needed, recommend

QWEN_4B = catalogue.find("qwen3-4b-instruct-2507")


def test_memory_needed_is_file_plus_kv_cache_plus_overhead():
    # 36 layers x 8 KV heads x 128 dims, K and V in f16, 4096 tokens: 576 MiB.
    assert machine_fit.kv_cache_bytes(QWEN_4B) == 2 * 36 * 8 * 128 * 2 * 4096 == 576 << 20
    assert memory_needed(QWEN_4B) == QWEN_4B.approx_size + (576 << 20) + machine_fit.RUNTIME_OVERHEAD
    assert memory_needed(QWEN_4B, n_ctx=32_768) - memory_needed(QWEN_4B) == 7 * (576 << 20)
    assert machine_fit.describe_need(QWEN_4B) == f"~{memory_needed(QWEN_4B) / GIB:.1f} GB"


@pytest.mark.parametrize("gigabytes, expected", [
    (2, []),  # nothing needs at most 1 GB
    (4, ["qwen3-0.6b", "llama-3.2-1b-instruct", "gemma-3-1b-it"]),  # the 1B class
    (8, ["qwen3-4b-instruct-2507", "gemma-3-4b-it", "phi-4-mini-instruct"]),  # the 4B class
    (64, ["qwen3-4b-instruct-2507", "gemma-3-4b-it", "phi-4-mini-instruct"]),  # the best the list has
])
def test_recommendation_by_memory(gigabytes, expected):
    total = gigabytes * GIB
    chosen = recommend(total)
    assert [e.name for e in chosen] == expected
    assert all(fits(e, total) for e in chosen)
    needs = [memory_needed(e) for e in chosen]
    assert needs == sorted(needs, reverse=True)  # best (largest) first
    left_out = [e for e in catalogue.CATALOGUE if e not in chosen and fits(e, total)]
    assert all(memory_needed(e) <= min(needs) for e in left_out)  # no bigger fitting model was skipped


def test_half_the_memory_is_the_limit():
    need = memory_needed(QWEN_4B)
    assert fits(QWEN_4B, 2 * need) and not fits(QWEN_4B, 2 * need - 1)
    assert recommend(None) == [] and recommend(0) == []
    assert machine_fit.describe_memory(16 * GIB) == "16 GB" and machine_fit.describe_memory(GIB // 4) == "1 GB"


def test_this_machines_memory_and_the_override(monkeypatch):
    monkeypatch.delenv("RAGDESK_MEMORY_GB", raising=False)
    total = machine_fit.machine_memory()
    assert total is not None and 256 << 20 < total < 1 << 50
    monkeypatch.setenv("RAGDESK_MEMORY_GB", "8")
    assert machine_fit.machine_memory() == 8 * GIB
    monkeypatch.setenv("RAGDESK_MEMORY_GB", "lots")
    assert machine_fit.machine_memory() == total  # a bad override is ignored


def test_models_list_shows_the_recommendation(monkeypatch):
    from click.testing import CliRunner

    from ragdesk.cli.models_cmds import models  # noqa: F401 - registers the group
    from ragdesk.cli.root import cli

    monkeypatch.setenv("RAGDESK_MEMORY_GB", "4")
    runner = CliRunner()
    rows = json.loads(runner.invoke(cli, ["models", "list", "--json"]).stdout)
    available = {r["name"]: r for r in rows if r["status"] == "available" and r["kind"] == "model"}
    assert set(available) == {e.name for e in catalogue.CATALOGUE}
    assert [n for n, r in available.items() if r["recommended"]] == sorted(
        (e.name for e in recommend(4 * GIB)), key=[e.name for e in catalogue.CATALOGUE].index)
    assert all(r["memory_needed"] == memory_needed(catalogue.find(n)) for n, r in available.items())
    assert available["smollm3-3b"]["architecture"] == "smollm3"
    text = runner.invoke(cli, ["models", "list"]).stdout
    assert "★ qwen3-0.6b" in text and "★ qwen3-4b-instruct-2507" not in text
    assert "★ Recommended for this computer (4 GB)" in text
