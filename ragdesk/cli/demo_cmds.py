"""``ragdesk demo``: the offline first-run tour."""

from __future__ import annotations

import click

from ragdesk.cli.errors import user_errors
from ragdesk.cli.root import cli


@cli.command()
@click.option("--model", "-m", help="Model name or GGUF path (default: the built-in SmolLM2).")
def demo(model: str | None) -> None:
    """Index the bundled sample documents and answer questions from them, offline."""
    from ragdesk.demo import run_demo

    with user_errors():
        run_demo(click.echo, lambda piece: click.echo(piece, nl=False), model=model)
