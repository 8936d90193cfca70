"""``ragdesk eval``: measure retrieval (and, with a model, answer) quality."""

from __future__ import annotations

import click

from ragdesk.cli.root import cli, emit_json
from ragdesk.cli.store_cmds import open_store, user_errors


@cli.group(name="eval")
def eval_group() -> None:
    """Evaluate retrieval and answers on your own or public data."""


@eval_group.command()
@click.option("--queries", "queries_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--qrels", "qrels_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--collection", "-c", help="Collection to search (default: the default collection).")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "bm25"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def retrieval(queries_path: str, qrels_path: str, collection: str | None, mode: str, as_json: bool) -> None:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 on BEIR-format queries and qrels.

    A document's id is its file name without extension.
    """
    from ragdesk.evaluation import retrieval as metrics

    store = open_store()
    queries = metrics.load_queries(queries_path)
    qrels = metrics.load_qrels(qrels_path)
    with user_errors():
        store.collection(collection)  # fail early on a wrong name

        def ranked(text: str) -> list[str]:
            # Enough chunks to fill 100 distinct documents in most cases.
            return metrics.ranked_documents(store.search(text, collection, k=300, mode=mode))[:100]

        scores = metrics.evaluate(queries, qrels, ranked)
    result = {"mode": mode, **scores.to_json()}
    if as_json:
        emit_json(result)
        return
    click.echo(
        f"{scores.queries} queries, {mode}: nDCG@10 {scores.ndcg_at_10:.4f}  "
        f"Recall@10 {scores.recall_at_10:.4f}  Recall@100 {scores.recall_at_100:.4f}  "
        f"MRR@10 {scores.mrr_at_10:.4f}"
    )
