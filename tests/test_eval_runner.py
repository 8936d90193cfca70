"""``run_eval`` end to end: real store, real llama.cpp on the tiny model, a real adapter.

The tiny model writes gibberish, so these tests check the structure of a run,
the baseline, the per-mode counts, progress and cancel, and that the metrics
equal what is recomputed by hand from the stored answers.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from support.threads import threads_for_tests

from ragdesk.chat import ChatSession
from ragdesk.evaluation.qa import YES_NO_MAYBE, QAItem, parse_label, token_f1
from ragdesk.evaluation.runner import EvalError, EvalRun, MissingAdapterError, label_instruction, run_eval
from ragdesk.settings import Settings

DOCS = {
    "zephyr.txt": "The Zephyr turbine converts wind into electricity. It was installed in Norway in 2019.",
    "sourdough.txt": "Sourdough bread needs a starter made of flour and water. Bake the loaf at 230 degrees.",
    "photosynthesis.txt": "Photosynthesis turns sunlight, water and carbon dioxide into glucose and oxygen.",
    "harbour.txt": "The old harbour of Velmora was rebuilt in 1887 after a storm destroyed the piers.",
}

QUESTIONS = [
    QAItem("Was the Zephyr turbine installed in Norway?", answer="in Norway in 2019", label="yes", gold_doc="zephyr"),
    QAItem("Is sourdough baked at 100 degrees?", label="no", gold_doc="sourdough"),
    QAItem("What does photosynthesis produce?", answer="glucose and oxygen", gold_doc="photosynthesis"),
    QAItem("When was the harbour of Velmora rebuilt?", answer="1887", gold_doc="harbour"),
    QAItem("Does a storm destroy piers?", label="maybe"),
    QAItem("What does the Zephyr turbine convert?", answer="wind into electricity"),
]


def make_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def session(store, tmp_path, tiny_model, tiny_lora):
    """A chat session on the tiny model with a random adapter, over an indexed collection."""
    store.index([make_folder(tmp_path / "docs")])
    # One thread: llama.cpp's spinning threads crawl when the other core is busy (CI, other tests).
    s = ChatSession(store, settings=Settings(n_threads=threads_for_tests(1), n_ctx=1024))
    s.load_model(str(tiny_model.gguf_path))
    s.choose_adapter(str(tiny_lora))
    yield s
    s.engine.close()


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_run_all_modes_structure_and_progress(session, monkeypatch):
    queries: list[str] = []
    search = session.store.search

    def recording_search(query, *args, **kwargs):
        queries.append(query)
        return search(query, *args, **kwargs)

    monkeypatch.setattr(session.store, "search", recording_search)
    calls: list[tuple[int, int, str]] = []
    run = run_eval(session, QUESTIONS, ["rag", "lora", "hybrid"], max_tokens=12,
                   progress=lambda done, total, mode: calls.append((done, total, mode)))

    assert run.modes == ["closed", "rag", "lora", "hybrid"]  # the baseline always, and first
    assert not run.cancelled and run.labels == YES_NO_MAYBE and run.k == 5
    assert session.engine.load_count == 1  # one model in memory for every mode
    assert [c[0] for c in calls] == list(range(1, 25)) and {c[1] for c in calls} == {24}
    assert [c[2] for c in calls] == ["closed"] * 6 + ["rag"] * 6 + ["lora"] * 6 + ["hybrid"] * 6
    for mode in run.modes:
        assert [r.index for r in run.records[mode]] == list(range(6))
    # Retrieval searched with the bare questions, never with the answer-format instruction.
    assert queries and all(label_instruction(YES_NO_MAYBE) not in q for q in queries)
    assert set(queries) <= {q.question for q in QUESTIONS}

    result = json.loads(json.dumps(run.to_json()))  # what --json prints
    assert result["n"] == 6 and set(result["modes"]) == set(run.modes)
    for mode in ("closed", "lora"):
        m = result["modes"][mode]
        assert m["hit_at_k"] is None and m["mrr"] is None and m["no_citation_share"] is None
    for mode in ("rag", "hybrid"):
        m = result["modes"][mode]
        assert m["retrieval_n"] == 4 and m["hit_at_k"] is not None
        # The top hit of each question is its own document: the store's retrieval works.
        assert m["hit_at_k"] == 1.0 and m["mrr"] == 1.0
    assert all(m["n"] == 6 and m["label_n"] == 3 and m["answer_n"] == 4 for m in result["modes"].values())
    assert all(q["answers"].keys() == set(run.modes) for q in result["questions"])
    assert EvalRun.from_json(result).to_json()["modes"] == result["modes"]

    # Every metric recomputed by hand from the stored answers.
    for mode, m in result["modes"].items():
        answers = [q["answers"][mode] | {"q": q} for q in result["questions"]]
        labelled = [a for a in answers if a["q"]["label"]]
        right = sum(parse_label(a["text"]) == a["q"]["label"] for a in labelled)
        assert m["label_accuracy"] == pytest.approx(right / len(labelled))
        with_answer = [a for a in answers if a["q"]["answer"]]
        f1 = statistics.mean(token_f1(a["text"], a["q"]["answer"]) for a in with_answer)
        assert m["token_f1"] == pytest.approx(f1)
        assert m["latency_p50_ms"] == pytest.approx(statistics.median(a["latency_ms"] for a in answers))
        assert all(a["latency_ms"] > 0 for a in answers)
        rates = [a["tokens_per_s"] for a in answers if a["completion_tokens"] >= 2]
        assert m["tokens_per_s"] == pytest.approx(statistics.mean(rates))
        if mode in ("rag", "hybrid"):
            silent = sum(1 for a in answers if not a["cited_docs"])
            assert m["no_citation_share"] == pytest.approx(silent / 6)
            assert all(a["retrieved_docs"] for a in answers if a["q"]["gold_doc"])
            cited = [d for a in answers if a["q"]["gold_doc"] for d in a["cited_docs"]]
            gold = sum(d == a["q"]["gold_doc"] for a in answers if a["q"]["gold_doc"] for d in a["cited_docs"])
            assert m["citation_precision"] == (pytest.approx(gold / len(cited)) if cited else None)


def test_answers_are_greedy_and_reproducible(session):
    first = run_eval(session, QUESTIONS[:3], ["rag"], max_tokens=10)
    again = run_eval(session, QUESTIONS[:3], ["rag"], max_tokens=10)
    for mode in ("closed", "rag"):
        assert [r.text for r in first.records[mode]] == [r.text for r in again.records[mode]]
    assert session.conversations.list() == []  # evaluation answers are not saved as chats


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_cancel_keeps_what_was_answered(session):
    answered: list[str] = []
    run = run_eval(session, QUESTIONS, ["rag"], max_tokens=8, on_answer=lambda r: answered.append(r.mode),
                   cancel=lambda: len(answered) >= 8)
    assert run.cancelled
    assert answered == ["closed"] * 6 + ["rag"] * 2
    assert [len(run.records[m]) for m in run.modes] == [6, 2]
    assert run.metrics["rag"]["n"] == 2 and run.to_json()["cancelled"] is True


def test_modes_that_cannot_run_are_refused_before_any_answer(session, store):
    session.choose_adapter(None)
    with pytest.raises(MissingAdapterError, match="--lora"):
        run_eval(session, QUESTIONS, ["rag", "hybrid"])
    store.create_collection("empty")
    with pytest.raises(EvalError, match="'empty' is empty"):
        run_eval(session, QUESTIONS, ["rag"], collection="empty")
    with pytest.raises(Exception, match="unknown mode 'fancy'"):
        run_eval(session, QUESTIONS, ["fancy"])
    with pytest.raises(EvalError, match="no questions"):
        run_eval(session, [], ["rag"])
