"""``ragdesk compare``: one question, answered by several knowledge modes in turn."""

from __future__ import annotations

import threading

import click

from ragdesk.cli.engine_opts import engine_options
from ragdesk.cli.errors import user_errors
from ragdesk.cli.root import cli, emit_json, fail


@cli.command()
@click.argument("question")
@click.option("--modes", "modes_text", help="Comma-separated modes [default: rag,lora,hybrid; without --lora, "
              "the modes that need an adapter are replaced by the closed-book baseline].")
@click.option("--model", "-m", help="Model name (see `ragdesk models list`) or GGUF path.")
@click.option("--lora", "-a", help="LoRA adapter name or GGUF path (lora and hybrid modes).")
@click.option("--collection", "-c", help="Collection to retrieve from (rag and hybrid modes).")
@click.option("--k", "k", type=click.IntRange(1, 50), help="Chunks to retrieve.")
@click.option("--max-tokens", type=click.IntRange(1, 32768), help="Longest answer, in tokens.")
@click.option("--temperature", type=float, default=0.0, show_default=True,
              help="0 is greedy: the modes then differ only by what they know.")
@click.option("--json", "as_json", is_flag=True, help="Print every answer with its sources and timings as JSON.")
@engine_options
def compare(question, modes_text, model, lora, collection, k, max_tokens, temperature, as_json, engine) -> None:
    """Answer QUESTION in several modes (same model, collection and adapter), one after another."""
    from ragdesk.chat.modes import BASELINE, get_mode
    from ragdesk.cli.chat_cmds import make_session, print_sources, print_stats
    from ragdesk.cli.eval_cmds import ctrl_c_cancels, parse_modes
    from ragdesk.compare import DEFAULT_MODES
    from ragdesk.compare import compare as run_compare

    modes = parse_modes(modes_text)
    note = None
    if modes is None:
        modes = list(DEFAULT_MODES)
        if not lora:
            modes = [BASELINE] + [m for m in modes if not get_mode(m).adapter]
            note = "No --lora adapter: comparing rag with the closed-book baseline (pass --lora NAME for lora, hybrid)."
    needing = [m for m in modes if get_mode(m).adapter]
    if needing and not lora:
        fail(f"mode {needing[0]} needs a LoRA adapter: choose one with --lora NAME")
    session = make_session(model, lora, collection, modes[0], engine)
    if collection and any(get_mode(m).retrieval for m in modes):
        with user_errors():
            session.store.collection(collection)  # a wrong name is named as such, not as "empty"
    if note and not as_json:
        click.echo(click.style(note, dim=True), err=True)

    def start(mode: str) -> None:
        click.echo(click.style(f"\n── {get_mode(mode).label} ──", bold=True))

    def done(mode: str, answer) -> None:
        click.echo()
        print_sources(answer)
        print_stats(answer)

    stop = threading.Event()
    with user_errors(), ctrl_c_cancels(stop):
        result = run_compare(
            session, question, modes, max_tokens=max_tokens, temperature=temperature, k=k, cancel=stop.is_set,
            on_start=None if as_json else start,
            on_token=None if as_json else (lambda mode, piece: click.echo(piece, nl=False)),
            on_answer=None if as_json else done,
        )
    if as_json:
        emit_json({"model": session.model_name, "adapter": session.adapter_name,
                   "collection": collection or session.settings.default_collection, **result.to_json()})
        return
    click.echo()
    click.echo(f"{'mode':<14}{'latency':>10}{'tokens/s':>10}{'citations':>11}")
    from ragdesk.compare import latency_ms

    for mode, answer in result.answers.items():
        click.echo(f"{get_mode(mode).label:<14}{latency_ms(answer) / 1000:>9.2f}s"
                   f"{answer.stats.get('tokens_per_s', 0):>10.1f}{len(answer.cited):>11}")
    if result.cancelled:
        click.echo("(stopped)")
