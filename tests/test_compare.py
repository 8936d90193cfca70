"""One question in several modes: the API a GUI streams from, and ``ragdesk compare``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.threads import threads_for_tests
from test_eval_runner import make_folder, session  # noqa: F401 - session is a fixture

from ragdesk.chat import ModeError
from ragdesk.cli import cli
from ragdesk.compare import compare, latency_ms, plan_modes
from ragdesk.settings import Settings

QUESTION = "When was the harbour of Velmora rebuilt?"


def test_three_modes_stream_in_turn_on_one_engine(session):
    events: list[tuple] = []
    streamed: dict[str, str] = {}

    def on_token(mode, piece):
        events.append(("token", mode))
        streamed[mode] = streamed.get(mode, "") + piece

    result = compare(session, QUESTION, ["rag", "lora", "hybrid"], max_tokens=12,
                     on_start=lambda m: events.append(("start", m)), on_token=on_token,
                     on_answer=lambda m, a: events.append(("done", m)))
    assert list(result.answers) == ["rag", "lora", "hybrid"] and not result.cancelled and result.skipped == {}
    # Each mode starts, streams and finishes before the next one starts.
    order = [e for i, e in enumerate(events) if i == 0 or e != events[i - 1]]
    assert order == [("start", "rag"), ("token", "rag"), ("done", "rag"), ("start", "lora"), ("token", "lora"),
                     ("done", "lora"), ("start", "hybrid"), ("token", "hybrid"), ("done", "hybrid")]
    assert session.engine.load_count == 1
    for mode, answer in result.answers.items():
        assert answer.mode == mode and answer.model == session.model_name
        assert streamed[mode].strip() == answer.text or answer.cited  # citations are cleaned after streaming
        assert latency_ms(answer) > 0 and answer.stats["completion_tokens"] > 0
    assert result.answers["lora"].adapter == result.answers["hybrid"].adapter == "tiny-lora"
    assert result.answers["rag"].adapter is None and result.answers["lora"].retrieved == []
    assert result.answers["rag"].retrieved[0].path.endswith("harbour.txt")  # same collection, same retrieval
    rag, hybrid = result.answers["rag"], result.answers["hybrid"]
    assert [h.chunk_id for h in rag.retrieved] == [h.chunk_id for h in hybrid.retrieved]
    # The adapter changes the answer (a random adapter moves the tiny model's logits a lot).
    assert result.answers["rag"].text != result.answers["hybrid"].text
    data = json.loads(json.dumps(result.to_json()))
    assert set(data["modes"]["rag"]) >= {"answer", "cited", "retrieved", "stats", "latency_ms", "tokens_per_s",
                                         "citations"}
    assert session.conversations.list() == []  # not saved unless persist=True


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_greedy_comparisons_repeat_exactly(session):
    first = compare(session, QUESTION, ["closed", "lora"], max_tokens=10)
    again = compare(session, QUESTION, ["closed", "lora"], max_tokens=10)
    assert [a.text for a in first.answers.values()] == [a.text for a in again.answers.values()]


def test_cancel_keeps_the_partial_answer_and_stops(session):
    pieces: list[str] = []
    result = compare(session, QUESTION, ["rag", "lora", "hybrid"], max_tokens=40,
                     on_token=lambda m, p: pieces.append(m), cancel=lambda: len(pieces) >= 3)
    assert result.cancelled and list(result.answers) == ["rag"]
    assert result.answers["rag"].stats["stop_reason"] == "cancelled"


def test_unavailable_modes_are_refused_or_skipped(session, store):
    session.choose_adapter(None)
    with pytest.raises(ModeError, match="mode lora cannot run: choose a LoRA adapter first"):
        compare(session, QUESTION, ["rag", "lora"])
    assert plan_modes(session, ["rag", "lora", "hybrid"], skip_unavailable=True) == (
        ["rag"], {"lora": "choose a LoRA adapter first", "hybrid": "choose a LoRA adapter first"})
    store.create_collection("empty")
    result = compare(session, QUESTION, ["closed", "rag"], collection="empty", skip_unavailable=True, max_tokens=4)
    assert list(result.answers) == ["closed"] and "empty" in result.skipped["rag"]
    assert session.collection is None  # the session's own choice is left as it was
    with pytest.raises(ModeError, match="unknown mode"):
        compare(session, QUESTION, ["fancy"])
    with pytest.raises(ValueError, match="empty"):
        compare(session, "  ", ["rag"])


@pytest.fixture
def indexed_home(store, tmp_path):
    Settings(n_threads=threads_for_tests(1), n_ctx=1024).save()
    store.index([make_folder(tmp_path / "docs")])


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_cli_compare_json(indexed_home, tiny_model, tiny_lora):
    result = CliRunner().invoke(cli, ["compare", QUESTION, "--modes", "rag,lora,hybrid", "--model",
                                      str(tiny_model.gguf_path), "--lora", str(tiny_lora), "--max-tokens", "8",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == QUESTION and list(data["modes"]) == ["rag", "lora", "hybrid"]
    assert data["adapter"] == "tiny-lora" and data["collection"] == "default" and data["skipped"] == {}
    for mode, answer in data["modes"].items():
        assert answer["mode"] == mode and answer["latency_ms"] > 0 and answer["stats"]["completion_tokens"] <= 8


def test_cli_compare_text_without_adapter(indexed_home, tiny_model):
    result = CliRunner().invoke(cli, ["compare", QUESTION, "--model", str(tiny_model.gguf_path), "--max-tokens", "6"])
    assert result.exit_code == 0, result.output
    assert "No --lora adapter: comparing rag with the closed-book baseline" in result.stderr
    out = result.stdout
    assert out.index("── closed-book ──") < out.index("── RAG ──")
    table = out.splitlines()[-3:]
    assert table[0].split() == ["mode", "latency", "tokens/s", "citations"]
    assert [row.split()[0] for row in table[1:]] == ["closed-book", "RAG"]


def test_cli_compare_errors(indexed_home, tiny_model):
    model = str(tiny_model.gguf_path)
    result = CliRunner().invoke(cli, ["compare", QUESTION, "--modes", "rag,hybrid", "--model", model])
    assert result.exit_code == 1
    assert result.stderr == "Error: mode hybrid needs a LoRA adapter: choose one with --lora NAME\n"
    result = CliRunner().invoke(cli, ["compare", QUESTION, "--modes", "rag", "-c", "nope",
                                      "--model", str(tiny_model.gguf_path)])
    assert result.exit_code == 1 and result.stderr.startswith("Error: no collection named 'nope'")
