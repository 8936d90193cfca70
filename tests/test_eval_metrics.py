"""Answer-quality metrics against values computed by hand (see the comments)."""

from __future__ import annotations

import json

import pytest

from ragdesk.evaluation.qa import (
    YES_NO_MAYBE,
    AnswerRecord,
    QAFileError,
    QAItem,
    bootstrap_interval,
    contains_answer,
    disagreements,
    label_vocabulary,
    load_qa,
    mean,
    normalize_answer,
    parse_label,
    percentile,
    reciprocal_rank,
    score_mode,
    token_f1,
    wilson_interval,
)

# A small QA file with known contents, and what two modes answered.
ITEMS = [
    QAItem("Is the sky blue?", answer="the sky is blue", label="yes", gold_doc="sky"),
    QAItem("Does aspirin cure cancer?", answer="no it does not", label="no", gold_doc="aspirin"),
    QAItem("Can X happen?", label="maybe", gold_doc="x"),
    QAItem("What is the capital of France?", answer="Paris", gold_doc="france"),
    QAItem("How many days are in a week?", answer="seven days"),
]

RAG = [
    AnswerRecord(0, "rag", "Yes, the sky is blue [1].", ["sky", "sky", "other"], ["sky"], 100, 10, 20.0),
    AnswerRecord(1, "rag", "There is no evidence that aspirin cures cancer [2].", ["other", "aspirin"],
                 ["aspirin"], 200, 12, 30.0),
    AnswerRecord(2, "rag", "Unclear from the sources.", ["y", "z"], [], 300, 5, 25.0),
    AnswerRecord(3, "rag", "The capital is Paris [1][2].", ["france", "europe"], ["france", "europe"], 400, 6, 40.0),
    AnswerRecord(4, "rag", "A week has 7 days.", ["week"], [], 1000, 1, 0.0),
]

CLOSED = [
    AnswerRecord(0, "closed", "No.", None, None, 50, 2, 10.0),
    AnswerRecord(1, "closed", "No, it doesn't.", None, None, 60, 5, 10.0),
    AnswerRecord(2, "closed", "Maybe.", None, None, 70, 2, 10.0),
    AnswerRecord(3, "closed", "Paris", None, None, 80, 2, 10.0),
    AnswerRecord(4, "closed", "seven days", None, None, 90, 3, 10.0),
]


def test_normalisation_and_token_f1_by_hand():
    assert normalize_answer("The  Sky, is BLUE [1].") == "sky is blue 1"
    # pred [yes sky is blue 1] vs gold [sky is blue]: P=3/5, R=1 -> F1 = 2*.6/1.6 = 0.75
    assert token_f1("Yes, the sky is blue [1].", "the sky is blue") == pytest.approx(0.75)
    # 9 pred tokens, 4 gold tokens, 1 shared ("no"): F1 = 2*(1/9)(1/4)/(1/9+1/4) = 2/13
    assert token_f1("There is no evidence that aspirin cures cancer [2].", "no it does not") == pytest.approx(2 / 13)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0 and token_f1("cat", "dog") == 0.0


def test_containment_is_on_word_boundaries():
    assert contains_answer("The capital is Paris [1][2].", "Paris")
    assert not contains_answer("A week has 7 days.", "seven days")
    assert not contains_answer("Parisian food", "Paris")
    assert contains_answer("It is THE Eiffel tower!", "eiffel tower")
    assert not contains_answer("anything", "")


@pytest.mark.parametrize(
    "answer,expected",
    [
        ("Yes, the sky is blue.", "yes"),
        ("NO.", "no"),
        ("Answer: maybe, the data are mixed", "maybe"),
        ("There is no evidence that it helps.", "no"),  # "no evidence" answers negatively
        ("Yes, no or maybe: the answer is no, it does not.", "no"),  # an echo of the options is skipped
        ("yes/no: yes", "yes"),
        ("It is not effective.", None),  # no label word: counted wrong
        ("Nobody knows; the snow is deep", None),  # whole words only
        ("", None),
    ],
)
def test_parse_label(answer, expected):
    assert parse_label(answer) == expected


def test_parse_label_with_other_classes():
    labels = label_vocabulary(["Positive", "negative", "neutral", "positive"])
    assert labels == ("negative", "neutral", "positive")
    assert parse_label("The review is negative, not positive.", labels) == "negative"
    assert parse_label("Mostly neutral", labels) == "neutral"
    assert label_vocabulary(["yes", "no"]) == YES_NO_MAYBE  # a yes/no file still recognises "maybe"


def test_wilson_interval_by_hand():
    # 3/5: centre (0.6 + 1.9208/5)/(1 + 3.8415/5) = 0.55655, half-width 0.32583
    lo, hi = wilson_interval(3, 5)
    assert (lo, hi) == (pytest.approx(0.2307, abs=1e-4), pytest.approx(0.8824, abs=1e-4))
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(2, 4) is None  # too few to say anything


def test_percentile_and_bootstrap():
    values = [100, 200, 300, 400, 1000]
    assert percentile(values, 50) == 300
    assert percentile(values, 95) == pytest.approx(880)  # position 3.8: 400 + 0.8 * 600
    assert percentile([5], 95) == 5
    ci = bootstrap_interval(values, mean)
    assert ci == bootstrap_interval(values, mean)  # seeded: reproducible
    assert 100 <= ci[0] < mean(values) < ci[1] <= 1000
    assert bootstrap_interval([7.0] * 6, mean) == [7.0, 7.0]
    assert bootstrap_interval([1, 2, 3, 4], mean) is None


def test_reciprocal_rank_collapses_chunks_to_documents():
    assert reciprocal_rank(["a", "a", "b", "c"], "b") == 0.5
    assert reciprocal_rank(["a", "a", "b", "c"], "c", k=2) == 0.0
    assert reciprocal_rank([], "a") == 0.0


def test_score_mode_rag_by_hand():
    m = score_mode(ITEMS, RAG, labels=YES_NO_MAYBE, k=5)
    assert m["n"] == 5
    # labels: yes (right), "no evidence" -> no (right), "Unclear" -> none (wrong): 2/3
    assert m["label_accuracy"] == pytest.approx(2 / 3) and m["label_n"] == 3 and m["label_unparsed"] == 1
    assert m["label_accuracy_ci"] is None  # 3 labelled questions: too few for an interval
    # F1: 0.75, 2/13, 1/3, 1/3 -> mean 0.392628; containment: sky is blue, Paris -> 2/4
    assert m["token_f1"] == pytest.approx((0.75 + 2 / 13 + 1 / 3 + 1 / 3) / 4)
    assert m["containment"] == 0.5 and m["answer_n"] == 4
    # gold docs of items 0-3: ranks 1, 2, none, 1 -> hit 3/4, MRR (1 + .5 + 0 + 1)/4
    assert m["hit_at_k"] == 0.75 and m["mrr"] == 0.625 and m["retrieval_n"] == 4 and m["k"] == 5
    # cited chunks of items 0-3: sky | aspirin | - | france, europe -> 3 of 4 from the gold doc
    assert m["citation_precision"] == 0.75 and m["citations_n"] == 4
    # answers 2 and 4 cite nothing: 2/5, Wilson (0.1176, 0.7693)
    assert m["no_citation_share"] == 0.4
    assert m["no_citation_share_ci"] == [pytest.approx(0.1176, abs=1e-4), pytest.approx(0.7693, abs=1e-4)]
    assert m["latency_p50_ms"] == 300 and m["latency_p95_ms"] == pytest.approx(880)
    assert m["latency_p50_ms_ci"] is not None and m["latency_p95_ms_ci"] is None  # p95 needs 20 answers
    # tokens/s over answers with >= 2 tokens: (20 + 30 + 25 + 40) / 4
    assert m["tokens_per_s"] == 28.75


def test_score_mode_closed_has_no_retrieval_metrics():
    m = score_mode(ITEMS, CLOSED, labels=YES_NO_MAYBE, k=5)
    assert m["label_accuracy"] == pytest.approx(2 / 3)  # No (wrong), No (right), Maybe (right)
    # containment: "No." and "No, it doesn't." miss their answers, "Paris" and "seven days" hit: 2/4
    assert m["containment"] == 0.5
    for key in ("hit_at_k", "mrr", "citation_precision", "no_citation_share", "k"):
        assert m[key] is None
    assert m["latency_p50_ms"] == 70 and m["tokens_per_s"] == 10.0


def test_score_mode_with_no_answers_keeps_every_key():
    m = score_mode(ITEMS, [], labels=YES_NO_MAYBE, k=5)
    assert m["n"] == 0 and m["label_accuracy"] is None and m["latency_p50_ms"] is None
    assert set(score_mode(ITEMS, RAG, labels=YES_NO_MAYBE, k=5)) == set(m)


def test_disagreements_by_hand():
    # 0: yes vs no; 1: no vs no; 2: none vs maybe; 3: Paris in both; 4: "7 days" vs "seven days"
    assert disagreements(ITEMS, {"rag": RAG, "closed": CLOSED}, YES_NO_MAYBE) == [0, 2, 4]
    assert disagreements(ITEMS, {"rag": RAG}, YES_NO_MAYBE) == []


def test_load_qa(tmp_path):
    path = tmp_path / "qa.jsonl"
    lines = [
        {"question": " Is it? ", "label": "YES", "gold_doc": 123},
        {},
        {"question": "What?", "answer": "That", "id": "q2"},
    ]
    path.write_text("\n".join(json.dumps(x) if x else "" for x in lines) + "\n", encoding="utf-8")
    items = load_qa(path)
    assert items == [QAItem("Is it?", None, "yes", "123"), QAItem("What?", "That", None, None, "q2")]
    assert load_qa(path, limit=1) == items[:1]


@pytest.mark.parametrize(
    "content,message",
    [("", "holds no questions"), ("{not json\n", "line 1 of qa.jsonl is not valid JSON"),
     ('{"answer": "x"}\n', 'line 1 of qa.jsonl has no "question"')],
)
def test_load_qa_errors(tmp_path, content, message):
    path = tmp_path / "qa.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(QAFileError, match=message):
        load_qa(path)
    with pytest.raises(QAFileError, match="cannot read"):
        load_qa(tmp_path / "missing.jsonl")
