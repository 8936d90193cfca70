"""The first-run demo: index the bundled sample documents and answer from them, offline.

This is what ``ragdesk demo`` runs, and what ``ragdesk`` does on a machine with
no display: it shows the app's main job end to end with the embedded defaults
(all-MiniLM-L6-v2 for embeddings, SmolLM2-135M-Instruct for answers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SAMPLE_DOCS = Path(__file__).parent / "sample_docs"
DEMO_COLLECTION = "sample-docs"
DEMO_QUESTIONS = (
    "How long does the Lantern N3 battery last on the low setting?",
    "Within how many days can unused products be returned?",
)


def run_demo(
    echo: Callable[[str], None],
    stream: Callable[[str], None],
    *,
    questions: tuple[str, ...] = DEMO_QUESTIONS,
    model: str | None = None,
) -> list:
    """Index the samples, then ask each question closed-book and with RAG; returns the answers."""
    from ragdesk.chat import ChatSession
    from ragdesk.store import KnowledgeStore

    answers = []
    with KnowledgeStore() as store:
        echo(f"Indexing the sample documents in {SAMPLE_DOCS} ...")
        report = store.index([SAMPLE_DOCS], DEMO_COLLECTION)
        info = store.info(DEMO_COLLECTION)
        echo(f"Collection {DEMO_COLLECTION!r}: {info.documents} documents, {info.chunks} chunks "
             f"({report.chunks_added} embedded now).")
        session = ChatSession(store)
        echo("Loading the language model ...")
        session.load_model(model)
        session.collection = DEMO_COLLECTION
        echo(f"Model: {session.model_name}\n")
        for question in questions:
            for mode in ("closed", "rag"):
                label = "closed-book (no documents)" if mode == "closed" else "RAG (answers from your documents)"
                echo(f"Q: {question}\n[{label}]")
                answer = session.ask(question, mode=mode, temperature=0, max_tokens=80, on_token=stream)
                echo("")
                for n, hit in answer.cited:
                    where = Path(hit.path).name + (f" › {hit.heading}" if hit.heading else "")
                    mark = "*" if n in answer.inferred else ""
                    echo(f"   [{n}]{mark} {where}: {' '.join(hit.text.split())[:120]}")
                echo(f"   ({answer.stats['completion_tokens']} tokens, {answer.stats['tokens_per_s']:.0f} tokens/s)\n")
                answers.append(answer)
    echo("Next: index your own folders with `ragdesk index FOLDER`, then `ragdesk chat`,\n"
         "or open the desktop app with `ragdesk` on a machine with a display.")
    return answers
