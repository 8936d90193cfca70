"""``ragdesk eval qa`` and ``ragdesk eval make-qa`` end to end on the tiny model."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.threads import threads_for_tests
from test_eval_runner import QUESTIONS, make_folder

from ragdesk.cli import cli
from ragdesk.evaluation.qa import parse_label
from ragdesk.settings import Settings


@pytest.fixture
def indexed(store, tmp_path):
    """The default collection holds the made-up facts; llama.cpp uses one thread (see test_eval_runner)."""
    Settings(n_threads=threads_for_tests(1), n_ctx=1024).save()
    store.index([make_folder(tmp_path / "docs")])
    return store


def write_qa(path: Path, items=QUESTIONS) -> Path:
    lines = [{k: v for k, v in vars(it).items() if v is not None} for it in items]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_eval_qa_json_and_report(indexed, tmp_path, tiny_model, tiny_lora):
    qa = write_qa(tmp_path / "qa.jsonl")
    report = tmp_path / "report"
    result = invoke("eval", "qa", "--qa", str(qa), "--modes", "rag,lora,hybrid", "--model", str(tiny_model.gguf_path),
                    "--lora", str(tiny_lora), "--max-tokens", "8", "--report", str(report), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n"] == 6 and list(data["modes"]) == ["closed", "rag", "lora", "hybrid"]
    assert data["adapter"] == "tiny-lora" and data["collection"] == "default" and data["max_tokens"] == 8
    for mode, metrics in data["modes"].items():
        assert metrics["n"] == 6
        assert set(metrics) >= {"label_accuracy", "label_accuracy_ci", "token_f1", "containment", "hit_at_k", "mrr",
                                "citation_precision", "no_citation_share", "latency_p50_ms", "latency_p95_ms",
                                "tokens_per_s"}
        labelled = [q for q in data["questions"] if q["label"]]
        right = sum(parse_label(q["answers"][mode]["text"]) == q["label"] for q in labelled)
        assert metrics["label_accuracy"] == pytest.approx(right / len(labelled))
        latencies = [q["answers"][mode]["latency_ms"] for q in data["questions"]]
        assert metrics["latency_p50_ms"] == pytest.approx(statistics.median(latencies))
        # Answers are cut at --max-tokens.
        assert all(q["answers"][mode]["completion_tokens"] <= 8 for q in data["questions"])
    assert (report / "report.html").stat().st_size > 10_000
    assert json.loads((report / "results.json").read_text(encoding="utf-8")) == data


def test_eval_qa_table_limit_and_default_modes(indexed, tmp_path, tiny_model):
    qa = write_qa(tmp_path / "qa.jsonl")
    result = invoke("eval", "qa", "--qa", str(qa), "--model", str(tiny_model.gguf_path), "--limit", "2",
                    "--max-tokens", "4")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "2 questions"
    assert lines[1].split() == ["closed", "rag"]  # no --lora: rag and the baseline
    assert any(line.startswith("Retrieval hit@k") and line.split()[-2:] == ["–", "1.000"] for line in lines)
    assert lines[-1].split() == ["answered", "2", "2"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--modes", "rag,lora"], "Error: mode lora needs a LoRA adapter: choose one with --lora NAME"),
        (["--collection", "nope"], "Error: no collection named 'nope'"),
        (["--lora", "missing-adapter"], "Error: no model or adapter named 'missing-adapter'"),
    ],
)
def test_eval_qa_user_errors(indexed, tmp_path, tiny_model, args, message):
    qa = write_qa(tmp_path / "qa.jsonl")
    result = CliRunner().invoke(cli, ["eval", "qa", "--qa", str(qa), "--model", str(tiny_model.gguf_path), *args])
    assert result.exit_code == 1 and result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.output


def test_eval_qa_bad_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", "qa", "--qa", str(bad)])
    assert result.exit_code == 1 and result.stderr == "Error: line 1 of bad.jsonl is not valid JSON\n"
    result = CliRunner().invoke(cli, ["eval", "qa", "--qa", str(bad), "--modes", "rag,fancy"])
    assert result.exit_code == 2 and "choose modes from rag, lora, hybrid, closed" in result.stderr


def test_make_qa_with_a_junk_model_says_so(indexed, tmp_path, tiny_model):
    out = tmp_path / "qa.jsonl"
    result = CliRunner().invoke(cli, ["eval", "make-qa", "--n", "2", "-o", str(out), "--model",
                                      str(tiny_model.gguf_path)])
    assert result.exit_code == 1 and not out.exists()
    # Only one of the short fact files has a chunk of 20 tokens or more to ask about.
    assert result.stderr.startswith("Error: the model wrote no usable question from 1 chunk (rejected: ")


def test_make_qa_on_an_empty_collection(store, tmp_path, tiny_model):
    store.create_collection("empty")
    result = CliRunner().invoke(cli, ["eval", "make-qa", "-c", "empty", "-o", str(tmp_path / "qa.jsonl"),
                                      "--model", str(tiny_model.gguf_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the collection 'empty' has no chunks long enough to ask about")


@pytest.mark.slow
def test_make_qa_then_eval_qa_with_the_real_model(store, tmp_path):
    """The default model writes a QA file about made-up facts; eval qa reads it back."""
    from test_qagen import FACTS

    folder = tmp_path / "facts"
    folder.mkdir()
    for i, text in enumerate(FACTS):
        (folder / f"fact{i}.txt").write_text(text, encoding="utf-8")
    Settings(n_threads=threads_for_tests(1), n_ctx=2048).save()
    store.index([folder], "facts")
    out = tmp_path / "qa.jsonl"
    made = invoke("eval", "make-qa", "-c", "facts", "--n", "3", "-o", str(out), "--json")
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert summary["kept"] == len(lines) >= 1 and summary["tried"] == len(FACTS)
    for line in lines:
        assert set(line) == {"question", "answer", "gold_doc", "chunk_id", "path"}
        assert (folder / f"{line['gold_doc']}.txt").read_text(encoding="utf-8") and line["question"].endswith("?")
    result = invoke("eval", "qa", "--qa", str(out), "-c", "facts", "--json", "--max-tokens", "48")
    data = json.loads(result.stdout)
    assert data["n"] == len(lines) and data["modes"]["rag"]["retrieval_n"] == len(lines)
    assert data["modes"]["rag"]["hit_at_k"] >= 0.5  # its own chunk's document is retrieved
