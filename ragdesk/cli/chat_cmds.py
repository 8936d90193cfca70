"""``ragdesk ask``, ``ragdesk chat`` and ``ragdesk conversations``."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import click

from ragdesk.chat.modes import MODES, get_mode
from ragdesk.cli.engine_opts import engine_choice, engine_options
from ragdesk.cli.errors import user_errors
from ragdesk.cli.root import cli, emit_json
from ragdesk.cli.store_cmds import open_store

MODE_CHOICE = click.Choice(list(MODES))


def make_session(model: str | None, lora: str | None, collection: str | None, mode: str, engine: dict | None = None):
    """A ChatSession with the model, adapter, collection and mode chosen; ``engine`` from engine_options."""
    from ragdesk.chat import ChatSession
    from ragdesk.llm.backends import create_engine

    store = open_store()
    with user_errors():
        session = ChatSession(store, engine=create_engine(store.settings, engine_choice(store.settings, engine or {})))
        session.load_model(model)
        session.choose_adapter(lora)
        session.collection = collection
        session.mode = mode
    return session


def print_sources(answer) -> None:
    if get_mode(answer.mode).retrieval and not answer.relevant:
        click.echo(click.style("(no relevant passage found in the documents)", dim=True))
    for n, hit in answer.cited:
        where = Path(hit.path).name + (f", p. {hit.page}" if hit.page else "") + (f", {hit.heading}" if hit.heading else "")
        snippet = " ".join(hit.text.split())
        mark = "*" if n in answer.inferred else ""
        click.echo(click.style(f"  [{n}]{mark} {where}: ", bold=True) + (snippet[:160] + "…" if len(snippet) > 160 else snippet))
        if hit.copies:
            click.echo(click.style(f"      ({hit.copies_line()})", dim=True))


    if answer.inferred:
        click.echo(click.style("  * not marked by the model; matched to the answer by content", dim=True))


def print_stats(answer) -> None:
    s = answer.stats
    click.echo(
        click.style(
            f"  {answer.mode} · {answer.model}" + (f" + {answer.adapter}" if answer.adapter else "")
            + f" · {s.get('completion_tokens', 0)} tokens, {s.get('tokens_per_s', 0):.1f} tok/s,"
            f" first token {s.get('retrieval_ms', 0) + s.get('prompt_ms', 0):.0f} ms",
            dim=True,
        )
    )


@cli.command()
@click.argument("question")
@click.option("--mode", type=MODE_CHOICE, default="rag", show_default=True, help="Knowledge mode.")
@click.option("--model", "-m", help="Model name (see `ragdesk models list`) or GGUF path.")
@click.option("--lora", "-a", help="LoRA adapter name or GGUF path (lora and hybrid modes).")
@click.option("--collection", "-c", help="Collection to retrieve from (rag and hybrid modes).")
@click.option("--k", "k", type=click.IntRange(1, 50), help="Chunks to retrieve.")
@click.option("--max-tokens", type=click.IntRange(1, 32768), help="Longest answer, in tokens.")
@click.option("--temperature", type=float, help="0 for greedy, reproducible answers.")
@click.option("--conversation", type=int, help="Continue this conversation (id).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer, its sources and timings as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Show each stage (searching, reading sources...) on stderr.")
@engine_options
def ask(question, mode, model, lora, collection, k, max_tokens, temperature, conversation, as_json, verbose,
        engine) -> None:
    """Ask one QUESTION; the answer streams and cites its sources."""
    session = make_session(model, lora, collection, mode, engine)
    stream = None if as_json else (lambda piece: click.echo(piece, nl=False))
    stages = (lambda stage: click.echo(click.style(stage.line(), dim=True), err=True)) if verbose else None
    with user_errors():
        answer = session.ask(
            question, mode=mode, k=k, max_tokens=max_tokens, temperature=temperature,
            conversation_id=conversation, on_token=stream, on_progress=stages,
        )
    if as_json:
        emit_json(answer.to_json())
        return
    click.echo()
    print_sources(answer)
    print_stats(answer)


CHAT_HELP = f"""Commands: /mode {'|'.join(MODES)}, /lora NAME|off, /model NAME, /collection NAME,
/new (new conversation), /help, /quit. Ctrl+C stops an answer."""


@cli.command()
@click.option("--mode", type=MODE_CHOICE, default="rag", show_default=True)
@click.option("--model", "-m", help="Model name or GGUF path.")
@click.option("--lora", "-a", help="LoRA adapter name or GGUF path.")
@click.option("--collection", "-c", help="Collection to retrieve from.")
@engine_options
def chat(mode, model, lora, collection, engine) -> None:
    """Interactive, streaming chat; /mode switches mode in place (no reload)."""
    session = make_session(model, lora, collection, mode, engine)
    conversation_id = None
    click.echo(f"ragdesk chat · {session.model_name} · mode {session.mode}. {CHAT_HELP}")
    while True:
        try:
            line = click.prompt(click.style(f"{session.mode}>", bold=True), prompt_suffix=" ", default="", show_default=False)
        except (EOFError, click.Abort):
            click.echo()
            return
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            cmd, _, arg = line[1:].partition(" ")
            arg = arg.strip()
            with contextlib.suppress(SystemExit):
                with user_errors():
                    if cmd in ("quit", "exit", "q"):
                        return
                    if cmd == "help":
                        click.echo(CHAT_HELP)
                    elif cmd == "mode":
                        get_mode(arg)
                        reason = session.unavailable_reason(arg)
                        if reason:
                            click.echo(f"Mode {arg} is not available: {reason}.")
                        else:
                            session.mode = arg
                            click.echo(f"Mode: {arg}")
                    elif cmd == "lora":
                        session.choose_adapter(None if arg in ("", "off", "none") else arg)
                        click.echo(f"Adapter: {session.adapter_name or 'none'}")
                    elif cmd == "model":
                        session.load_model(arg or None)
                        click.echo(f"Model: {session.model_name}")
                    elif cmd == "collection":
                        session.store.collection(arg or None)
                        session.collection = arg or None
                        click.echo(f"Collection: {arg or 'default'}")
                    elif cmd == "new":
                        conversation_id = None
                        click.echo("New conversation.")
                    else:
                        click.echo(f"Unknown command /{cmd}. {CHAT_HELP}")
            continue
        stop = threading.Event()
        try:
            with contextlib.suppress(SystemExit), user_errors():
                answer = session.ask(
                    line,
                    conversation_id=conversation_id,
                    on_token=lambda piece: click.echo(piece, nl=False),
                    cancel=stop.is_set,
                )
                conversation_id = answer.conversation_id
                click.echo()
                print_sources(answer)
                print_stats(answer)
        except KeyboardInterrupt:
            stop.set()
            click.echo("\n(stopped)")


@cli.group()
def conversations() -> None:
    """List, export, rename and delete saved conversations."""


def _conversation_store():
    from ragdesk.chat.conversations import ConversationStore

    return ConversationStore(open_store().conn)


@conversations.command(name="list")
@click.option("--json", "as_json", is_flag=True)
def list_conversations(as_json: bool) -> None:
    convs = _conversation_store().list()
    if as_json:
        emit_json([c.__dict__ for c in convs])
        return
    for c in convs:
        click.echo(f"{c.id:5}  {c.title}")


@conversations.command()
@click.argument("conversation_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def export(conversation_id: int, fmt: str, output: str | None) -> None:
    """Export a conversation as Markdown or JSON."""
    import json

    store = _conversation_store()
    with user_errors():
        text = (
            store.export_markdown(conversation_id)
            if fmt == "md"
            else json.dumps(store.export_json(conversation_id), indent=2, ensure_ascii=False)
        )
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text)


@conversations.command()
@click.argument("conversation_id", type=int)
@click.argument("title")
def rename(conversation_id: int, title: str) -> None:
    with user_errors():
        _conversation_store().rename(conversation_id, title)


@conversations.command(name="rm")
@click.argument("conversation_id", type=int)
def remove(conversation_id: int) -> None:
    with user_errors():
        _conversation_store().delete(conversation_id)
