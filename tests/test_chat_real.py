"""With the real built-in models: RAG answers from the document what closed-book cannot."""

from __future__ import annotations

import pytest
from support.threads import threads_for_tests

from ragdesk.chat import ChatSession
from ragdesk.llm.engine import Engine

pytestmark = pytest.mark.slow

MANUAL = """# Aurora Kettle manual

## Descaling

The Aurora kettle must be descaled every 6 weeks using a solution of citric acid.
The descaling indicator glows violet when it is time.

## Warranty

The warranty lasts 7 years if the kettle is registered within 30 days of purchase.
"""
OTHER = "Sourdough bread needs a starter made of flour and water, fed every day."


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-docs")
    (root / "kettle.md").write_text(MANUAL)
    (root / "bread.txt").write_text(OTHER)
    return root


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma-3-270m"])
def test_rag_copies_the_fact_from_the_passage_and_cites_it(store, docs, model):
    store.index([docs])
    engine = Engine(n_ctx=2048, n_threads=threads_for_tests(2))
    session = ChatSession(store, engine=engine)
    session.load_model(model)
    question = "How often must the Aurora kettle be descaled?"
    rag = session.ask(question, mode="rag", temperature=0, max_tokens=60)
    closed = session.ask(question, mode="closed", temperature=0, max_tokens=60)
    engine.close()

    assert "6 weeks" in rag.text, rag.text
    assert rag.cited, rag.text
    assert all(hit.path.endswith("kettle.md") for _, hit in rag.cited)
    assert rag.cited[0][1].heading == "Aurora Kettle manual > Descaling"
    # The closed-book answer is a base model's free text, which differs between CPUs: only its shape is checked.
    assert closed.cited == [] and closed.retrieved == [] and closed.stats["stop_reason"] in ("stop", "length")
