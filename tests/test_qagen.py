"""Question generation: the filter on hand-made candidates, the tiny model end to end, the real model (slow)."""

from __future__ import annotations

import json

import pytest
from support.threads import threads_for_tests

from ragdesk.evaluation.qa import answer_tokens
from ragdesk.qagen import (
    QAFilter,
    QAPair,
    check_candidate,
    content_words,
    generate_qa,
    generate_qa_detailed,
    parse_reply,
    tidy_answer,
)
from ragdesk.records import Hit

CHUNK = (
    "The Velmora lighthouse was built in 1887 by the engineer Ada Brenner. It is 42 metres tall, and its "
    "light can be seen 30 kilometres out to sea. The lighthouse was automated in 1962."
)

FACTS = [
    CHUNK,
    "Sourdough bread is made with a starter of flour and water that contains wild yeast and lactic acid "
    "bacteria. The dough rises for about twelve hours before it is baked at 230 degrees Celsius.",
    "The Zephyr wind farm in northern Norway has 48 turbines. It was opened in 2019 and produces enough "
    "electricity for about 60,000 homes. Each turbine is 150 metres high.",
    "Marie Dubois won the 1998 national chess championship at the age of nineteen. She later became a "
    "mathematics professor at the University of Lyon, where she studied graph theory.",
    "The Kessler River is 410 kilometres long. It rises in the Harz mountains and flows into the Baltic Sea "
    "near the port town of Ostrand, which is famous for its herring market.",
    "The Andean condor has a wingspan of up to 3.3 metres, making it one of the largest flying birds. It "
    "feeds mainly on carrion and can live for more than 70 years.",
    "In 1932, the Glass Bridge of Tarnow was the longest glass bridge in Europe. It crosses the Dunajec "
    "valley and is 312 metres long. Its designer was the architect Jan Zielinski.",
    "Photosynthesis takes place in the chloroplasts of plant cells. Using energy from sunlight, plants turn "
    "water and carbon dioxide into glucose and release oxygen as a by-product.",
]


@pytest.mark.parametrize(
    "question,answer,reason",
    [
        ("Who built the Velmora lighthouse?", "the engineer Ada Brenner", None),
        ("When was the Velmora lighthouse automated?", "In 1962.", None),
        ("How tall is the Velmora lighthouse?", "42 metres", None),
        ("Who built the Velmora lighthouse", "Ada Brenner", "not a question"),  # no question mark
        ("1887?", "Ada Brenner", "not a question"),
        ("Who built it?", "Ada Brenner", "question length"),
        ("Who is named in the passage?", "Ada Brenner", "refers to the passage"),
        ("What year does this study describe?", "1887", "refers to the passage"),
        ("Who built the Velmora lighthouse?", "", "no answer"),
        ("Who built the Velmora lighthouse?", " ".join(["word"] * 31), "answer too long"),
        ("Was the Velmora lighthouse built in 1887?", "Yes", "answer not specific"),
        ("Who built the Velmora lighthouse?", "Gustave Eiffel", "answer not in passage"),  # unsupported
        ("How tall is the Velmora lighthouse?", "It is 95 metres tall and painted red", "answer not in passage"),
        ("Who painted the Mona Lisa?", "Ada Brenner", "question not about passage"),
        ("Was the lighthouse built by Ada Brenner?", "Ada Brenner", "question gives answer"),
        # "48"-style nonsense: the answer is in the chunk, but the question is about something else.
        ("How many tourists climb the sea every day?", "30 kilometres", "question not about answer"),
        ("The Velmora lighthouse was built in 1887 by the engineer Ada Brenner?", "1887",
         "question gives answer"),
        ("It is 42 metres tall, and its light can be seen 30 kilometres out to sea?", "30 kilometres",
         "question gives answer"),
        ("Its light can be seen how far out to sea, the Velmora lighthouse?", "30 kilometres", None),
        ("The lighthouse was automated in 1962, is it 42 metres tall?", "42 metres", "question gives answer"),
        ("It is 42 metres tall and its light can be seen 30 kilometres out to sea?", "Ada Brenner",
         "question copies passage"),  # the whole question is a run of the chunk
    ],
)
def test_check_candidate(question, answer, reason):
    assert check_candidate(question, answer, CHUNK) == reason


def test_filter_rejects_near_duplicates():
    checks = QAFilter()
    assert checks.check("Who built the Velmora lighthouse?", "Ada Brenner", CHUNK) is None
    checks.keep("Who built the Velmora lighthouse?")
    assert checks.check("Who built the lighthouse of Velmora?", "Ada Brenner", CHUNK) == "duplicate"
    assert checks.check("Who was the builder of the Velmora lighthouse?", "Ada Brenner", CHUNK) is None
    assert checks.check("When was the Velmora lighthouse automated?", "1962", CHUNK) is None


@pytest.mark.parametrize(
    "reply,expected",
    [
        ("Question: Who built it?\nAnswer: Ada Brenner", ("Who built it?", "Ada Brenner")),
        ("**Question:** Who built it?\n\n**Answer:** The answer is: \"Ada Brenner.\"",
         ("Who built it?", "Ada Brenner")),
        ("Q1: Who built\nthe tower?\nA1) Ada\nBrenner\n\nQuestion: Another?\nAnswer: x",
         ("Who built the tower?", "Ada Brenner")),
        ("Question: Who built it? / The answer: Ada", None),  # answer on the question's line: not our format
        ("Question: Who built it?\nThe answer: Ada Brenner", ("Who built it?", "Ada Brenner")),
        ("Question: Who built it?", None),
        ("Answer: Ada Brenner", None),
        ("gibberish tokens here", None),
    ],
)
def test_parse_reply(reply, expected):
    assert parse_reply(reply) == expected


def test_tidy_answer_and_content_words():
    assert tidy_answer("The answer to this question would be \"Ada Brenner.\"") == "Ada Brenner"
    assert tidy_answer("Answer is: 1962.") == "1962"
    assert tidy_answer("Answers vary") == "Answers vary"
    assert content_words("Who built the Velmora lighthouse?") == ["built", "velmora", "lighthouse"]


def chunks_of(texts: list[str]) -> list[Hit]:
    return [Hit(i + 1, i + 1, f"/docs/fact{i}.txt", None, None, 0, len(t), t, 0.0) for i, t in enumerate(texts)]


@pytest.fixture
def tiny_engine(tiny_model):
    from ragdesk.llm.engine import Engine

    engine = Engine(n_ctx=1024, n_threads=threads_for_tests(1))
    engine.load(tiny_model.gguf_path)
    yield engine
    engine.close()


@pytest.mark.slow  # heavy for the fast pass (subprocesses, a model run or a large build): CI's slow pass runs it
def test_tiny_model_writes_junk_that_the_filter_rejects(tiny_engine):
    calls: list[tuple[int, int, int]] = []
    result = generate_qa_detailed(tiny_engine, chunks_of(FACTS[:5]), 3, progress=lambda *a: calls.append(a))
    assert result.tried == 5 and not result.cancelled
    assert result.pairs == [] and len(result.rejected) == 5  # random weights never write a checked pair
    assert all(r.reason for r in result.rejected) and sum(result.reasons().values()) == 5
    assert [r.chunk_id for r in result.rejected] == [1, 2, 3, 4, 5]
    assert calls == [(i, 5, 0) for i in range(1, 6)]
    # Seeded sampling: the same inputs give the same replies.
    again = generate_qa_detailed(tiny_engine, chunks_of(FACTS[:5]), 3)
    assert [r.raw for r in again.rejected] == [r.raw for r in result.rejected]


def test_cancel_stops_generation(tiny_engine):
    seen: list[int] = []
    result = generate_qa_detailed(tiny_engine, chunks_of(FACTS), 8, progress=lambda i, t, k: seen.append(i),
                                  cancel=lambda: len(seen) >= 2)
    assert result.cancelled and result.tried == 2 and seen == [1, 2]


def test_generate_qa_takes_a_chat_session(store, tiny_model, tiny_lora):
    from ragdesk.chat import ChatSession
    from ragdesk.settings import Settings

    session = ChatSession(store, settings=Settings(n_threads=threads_for_tests(1), n_ctx=1024, model=str(tiny_model.gguf_path)))
    session.choose_adapter(str(tiny_lora))
    assert generate_qa(session, chunks_of(FACTS[:2]), 2) == []
    assert session.engine.loaded and session.engine.adapter is None  # the base model writes the questions
    session.engine.close()


def test_pair_json_is_a_qa_file_line():
    pair = QAPair("Who built it?", "Ada", 7, "fact0", "/docs/fact0.txt")
    assert pair.to_json() == {"question": "Who built it?", "answer": "Ada", "gold_doc": "fact0", "chunk_id": 7,
                              "path": "/docs/fact0.txt"}


@pytest.mark.slow
def test_real_model_writes_some_answerable_questions():
    """SmolLM2-135M on eight short fact chunks: some questions survive, and they are good ones."""
    from ragdesk import db, paths
    from ragdesk.llm.engine import Engine
    from ragdesk.llm.registry import ModelRegistry

    entry = ModelRegistry(db.connect(paths.db_path())).resolve(None)
    engine = Engine(n_ctx=2048, n_threads=threads_for_tests(1))
    engine.load(entry.path)
    try:
        chunks = chunks_of(FACTS)
        result = generate_qa_detailed(engine, chunks, 8)
    finally:
        engine.close()
    print(json.dumps([p.to_json() for p in result.pairs], indent=1), result.reasons())
    assert result.tried == len(FACTS)
    assert len(result.pairs) >= 1
    texts = {c.chunk_id: c.text for c in chunks}
    for pair in result.pairs:
        chunk = texts[pair.chunk_id]
        assert pair.question.endswith("?") and 4 <= len(pair.question.split()) <= 40
        assert check_candidate(pair.question, pair.answer, chunk) is None
        words = set(answer_tokens(chunk))
        assert all(w in words for w in content_words(pair.answer)), (pair, chunk)
