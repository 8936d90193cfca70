"""``ragdesk eval``: measure retrieval (and, with a model, answer) quality."""

from __future__ import annotations

import threading

import click

from ragdesk.cli.engine_opts import engine_options
from ragdesk.cli.errors import user_errors
from ragdesk.cli.root import cli, ctrl_c_sets, emit_json, fail
from ragdesk.cli.store_cmds import open_store


@cli.group(name="eval")
def eval_group() -> None:
    """Evaluate retrieval and answers on your own or public data."""


def parse_search_modes(text: str) -> list[str]:
    """``bm25,hybrid+rerank`` -> ``["bm25", "hybrid+rerank"]``: search modes, each optionally reranked."""
    from ragdesk.store.search import SEARCH_MODES

    modes = [m.strip().lower() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m.removesuffix("+rerank") not in SEARCH_MODES]
    if bad or not modes:
        raise click.BadParameter(f"choose from {', '.join(SEARCH_MODES)}, each optionally with +rerank "
                                 f"(got {text!r})", param_hint="--modes")
    return list(dict.fromkeys(modes))


RETRIEVAL_COLUMNS = (("mrr@10", "MRR@10"), ("hit@1", "hit@1"), ("ndcg@10", "nDCG@10"),
                     ("recall@10", "Recall@10"), ("recall@100", "Recall@100"))


def _print_retrieval(results: dict[str, dict]) -> None:
    """One table: a row per mode and category (categories first, the total last)."""
    categories = list(next(iter(results.values()))["categories"])
    width = max(8, *(len(c) for c in categories))
    mode_width = max(6, *(len(m) for m in results))
    click.echo(f"{'category':<{width}}  {'mode':<{mode_width}} {'queries':>7}"
               + "".join(f"{title:>11}" for _, title in RETRIEVAL_COLUMNS))
    for category in [*categories, None]:
        for mode, result in results.items():
            row = result if category is None else result["categories"][category]
            click.echo(f"{category or 'all':<{width}}  {mode:<{mode_width}} {row['queries']:>7}"
                       + "".join(f"{row[key]:>11.4f}" for key, _ in RETRIEVAL_COLUMNS))


@eval_group.command()
@click.option("--queries", "queries_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--qrels", "qrels_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--collection", "-c", help="Collection to search (default: the default collection).")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "bm25"]), default="hybrid", show_default=True)
@click.option("--modes", "modes_text", help="Several modes in one run, comma-separated, each optionally "
              "reranked: bm25,vector,hybrid,hybrid+rerank (overrides --mode).")
@click.option("--rerank/--no-rerank", default=False, show_default=True,
              help="Rerank --mode's candidates with the reranker chosen in the settings.")
@click.option("--json", "as_json", is_flag=True)
def retrieval(queries_path: str, qrels_path: str, collection: str | None, mode: str, modes_text: str | None,
              rerank: bool, as_json: bool) -> None:
    """nDCG@10, Recall@10, Recall@100, MRR@10 and hit@1 on BEIR-format queries and qrels.

    A document's id is its file name without extension, or, when the qrels
    name documents by relative path (a slash in an id), the path relative to
    wherever the qrels' paths start. Query ids ``CATEGORY-...`` get a row per
    category next to the total. With --modes the JSON holds one such object
    per mode under "modes".
    """
    from ragdesk.evaluation import retrieval as metrics

    modes = parse_search_modes(modes_text) if modes_text else [mode + ("+rerank" if rerank else "")]
    store = open_store()
    queries = metrics.load_queries(queries_path)
    qrels = metrics.load_qrels(qrels_path)
    ids = metrics.DocumentIds(qrels)
    results = {}
    with user_errors():
        store.collection(collection)  # fail early on a wrong name
        for name in modes:
            base, _, extra = name.partition("+")

            def ranked(text: str, base=base, reranked=extra == "rerank") -> list[str]:
                # Enough chunks to fill 100 distinct documents in most cases.
                hits = store.search(text, collection, k=300, mode=base, rerank=reranked)
                return metrics.ranked_documents(hits, ids)[:100]

            results[name] = {"mode": name, **metrics.evaluate_by_category(queries, qrels, ranked).to_json()}
    if as_json:
        emit_json(results[modes[0]] if not modes_text else {"modes": results})
        return
    if len(results) == 1 and not results[modes[0]]["categories"]:
        only = results[modes[0]]
        click.echo(f"{only['queries']} queries, {modes[0]}: nDCG@10 {only['ndcg@10']:.4f}  "
                   f"Recall@10 {only['recall@10']:.4f}  Recall@100 {only['recall@100']:.4f}  "
                   f"MRR@10 {only['mrr@10']:.4f}  hit@1 {only['hit@1']:.4f}")
        return
    _print_retrieval(results)


# ---------------------------------------------------------------------------- eval qa / make-qa


def parse_modes(text: str | None) -> list[str] | None:
    """``rag,lora`` -> ``["rag", "lora"]``; unknown names are a usage error."""
    if text is None:
        return None
    from ragdesk.chat.modes import MODES

    modes = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise click.BadParameter(f"choose modes from {', '.join(MODES)} (got {text!r})", param_hint="--modes")
    return modes


def ctrl_c_cancels(event: threading.Event):
    """Ctrl-C stops the run after the current answer instead of killing it (a second one aborts)."""
    return ctrl_c_sets(event, "Stopping")


class StepBar:
    """A done/total bar on stderr (hidden when stderr is not a terminal)."""

    def __init__(self, description: str, quiet: bool = False) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=console, transient=True,
                                 disable=quiet or not console.is_terminal)
        self.task = self.progress.add_task(description, total=None)

    def __enter__(self) -> StepBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def update(self, done: int, total: int, description: str | None = None) -> None:
        extra = {"description": description} if description else {}
        self.progress.update(self.task, completed=done, total=total, **extra)


def _print_metrics(result: dict) -> None:
    from ragdesk.evaluation.report import METRIC_ROWS

    modes = list(result["modes"])
    width = max(12, *(len(m) + 2 for m in modes))
    click.echo(f"{result['n']} questions" + (" (cancelled: partial results)" if result["cancelled"] else ""))
    click.echo(" " * 24 + "".join(f"{m:>{width}}" for m in modes))
    for key, title, share in METRIC_ROWS:
        values = [result["modes"][m].get(key) for m in modes]
        if all(v is None for v in values):
            continue
        cells = "".join(f"{'–' if v is None else (f'{v:.3f}' if share else f'{v:.1f}'):>{width}}" for v in values)
        click.echo(f"{title:<24}{cells}")
    click.echo(f"{'answered':<24}" + "".join(f"{result['modes'][m]['n']:>{width}}" for m in modes))


@eval_group.command(name="qa")
@click.option("--qa", "qa_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="QA file: one JSON object per line with question and any of answer, label, gold_doc.")
@click.option("--modes", "modes_text", help="Comma-separated modes (default: rag, plus lora,hybrid with --lora). "
              "The closed-book baseline always runs.")
@click.option("--collection", "-c", help="Collection to retrieve from (default: the default collection).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N questions.")
@click.option("--model", "-m", help="Model name or GGUF path (default: the configured model).")
@click.option("--lora", "-a", help="LoRA adapter name or GGUF path (lora and hybrid modes).")
@click.option("--max-tokens", type=click.IntRange(1, 4096), default=128, show_default=True,
              help="Longest answer, in tokens.")
@click.option("--k", "k", type=click.IntRange(1, 50), help="Chunks to retrieve (default: the setting).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), help="Write an HTML report into DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print metrics and every answer as JSON.")
@engine_options
def qa(qa_path, modes_text, collection, limit, model, lora, max_tokens, k, report_dir, as_json, engine) -> None:
    """Compare the modes (and the closed-book baseline) on a QA file.

    Answers are greedy and short; a labelled question gets "Answer yes, no or
    maybe first, then explain briefly." (or the file's own labels) appended.
    """
    from ragdesk.chat.modes import BASELINE
    from ragdesk.cli.chat_cmds import make_session
    from ragdesk.compare import DEFAULT_MODES
    from ragdesk.evaluation.qa import load_qa
    from ragdesk.evaluation.runner import run_eval

    modes = parse_modes(modes_text) or (list(DEFAULT_MODES) if lora else ["rag"])
    with user_errors():
        items = load_qa(qa_path, limit=limit)
    session = make_session(model, lora, collection, BASELINE, engine)
    stop = threading.Event()
    with user_errors(), StepBar("answering", quiet=as_json) as bar, ctrl_c_cancels(stop):
        run = run_eval(session, items, modes, collection=collection, max_tokens=max_tokens, k=k,
                       progress=lambda done, total, mode: bar.update(done, total, mode), cancel=stop.is_set)
    result = run.to_json()
    if report_dir:
        from ragdesk.evaluation.report import write_report

        path = write_report(result, report_dir)
        if not as_json:
            click.echo(f"Report: {path}", err=True)
    if as_json:
        emit_json(result)
    else:
        _print_metrics(result)


@eval_group.command(name="make-qa")
@click.option("--collection", "-c", help="Collection to write questions about (default: the default collection).")
@click.option("--n", "n", type=click.IntRange(1, 10000), default=100, show_default=True, help="Questions wanted.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="QA file to write (JSONL).")
@click.option("--model", "-m", help="Model that writes the questions (default: the configured model).")
@click.option("--chunks", "n_chunks", type=click.IntRange(1), help="Chunks to sample (default: 3 x N; many "
              "replies are rejected).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print counts (kept, tried, rejection reasons) as JSON.")
@engine_options
def make_qa(collection, n, output, model, n_chunks, seed, as_json, engine) -> None:
    """Let the local model write questions about sampled chunks; keep the answerable ones.

    Each line has question, answer, gold_doc (the chunk's document), chunk_id and path.
    """
    import json
    import os
    from pathlib import Path

    from ragdesk.chat.modes import BASELINE
    from ragdesk.cli.chat_cmds import make_session
    from ragdesk.qagen import generate_qa_detailed

    session = make_session(model, None, collection, BASELINE, engine)
    stop = threading.Event()
    with user_errors():
        chunks = session.store.sample_chunks(collection, n_chunks or 3 * n, seed=seed)
        if not chunks:
            raise ValueError(f"the collection {collection or session.settings.default_collection!r} has no "
                             "chunks long enough to ask about: index documents first")
        with StepBar("writing questions", quiet=as_json) as bar, ctrl_c_cancels(stop):
            result = generate_qa_detailed(session, chunks, n, seed=seed, cancel=stop.is_set,
                                          progress=lambda tried, total, kept: bar.update(tried, total))
    if not result.pairs:
        fail(f"the model wrote no usable question from {result.tried} chunk{'' if result.tried == 1 else 's'} "
             f"(rejected: {', '.join(f'{k} {v}' for k, v in result.reasons().items()) or 'none'})")
    out = Path(output)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in result.pairs),
                   encoding="utf-8")
    os.replace(tmp, out)
    summary = {"output": str(out), "kept": len(result.pairs), "tried": result.tried,
               "rejected": result.reasons(), "cancelled": result.cancelled}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"Wrote {len(result.pairs)} questions to {out} ({result.tried} chunks tried"
                   + (", cancelled" if result.cancelled else "") + ").")
