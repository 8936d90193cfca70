"""``ragdesk serve`` (OpenAI-compatible HTTP API) and ``ragdesk mcp`` (Model Context Protocol over stdio)."""

from __future__ import annotations

import click

from ragdesk.cli.engine_opts import engine_choice, engine_options
from ragdesk.cli.root import cli, fail


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback reaches other computers.")
@click.option("--port", type=click.IntRange(0, 65535), default=8756, show_default=True, help="0 picks a free port.")
@click.option("--model", "-m", help="Model name (see `ragdesk models list`) or GGUF path [default: the setting].")
@click.option("--api-key", envvar="RAGDESK_API_KEY", help="Require `Authorization: Bearer KEY` on every route "
              "but /health (also $RAGDESK_API_KEY).")
@click.option("--cors-origin", "cors_origins", multiple=True, help="Allow browser pages from ORIGIN (repeatable); "
              "no CORS headers without it.")
@click.option("--max-queue", type=click.IntRange(1, 10_000), default=32, show_default=True,
              help="Requests that may wait for the model; more answer 429.")
@click.option("--max-tokens-limit", type=click.IntRange(1, 1_000_000), default=4096, show_default=True,
              help="The largest max_tokens a request may ask for.")
@click.option("--max-body", type=click.IntRange(1024), default=1_000_000, show_default=True,
              help="Largest request body in bytes; larger ones answer 413.")
@engine_options
def serve(host, port, model, api_key, cors_origins, max_queue, max_tokens_limit, max_body, engine) -> None:
    """Serve retrieval with citations and LoRA modes over an OpenAI-compatible API.

    The `model` of a request is MODE[:COLLECTION][@ADAPTER], e.g. rag:papers,
    hybrid:papers@papers-lora, lora@papers-lora or closed; GET /v1/models lists them.
    """
    from ragdesk.server.config import ServeConfig
    from ragdesk.server.runner import RagdeskServer
    from ragdesk.settings import Settings

    config = ServeConfig(host=host, port=port, api_key=api_key or None, model=model,
                         max_body_bytes=max_body, max_tokens=max_tokens_limit, max_queue=max_queue,
                         cors_origins=list(cors_origins))
    settings = Settings.load()
    server = RagdeskServer(config, settings, engine_choice=engine_choice(settings, engine))
    if server.warning:
        click.echo(click.style("Warning: " + server.warning, fg="yellow", bold=True), err=True)

    def ready(address: str) -> None:
        click.echo(f"ragdesk serves {server.model_name} at {address}/v1"
                   + (" (API key required)" if config.api_key else "") + ". Ctrl-C stops it.", err=True)

    with serve_errors():
        try:
            server.serve_forever(on_ready=ready)
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
            pass
    click.echo("Stopped.", err=True)


@cli.command()
@click.option("--model", "-m", help="Model name or GGUF path for the ask tool [default: the setting].")
@engine_options
def mcp(model, engine) -> None:
    """Serve your documents as Model Context Protocol tools over stdio.

    Tools: search_documents, ask, list_collections. Register `ragdesk mcp` as a
    stdio server in an MCP client (see the README).
    """
    from ragdesk.mcp_server import run_stdio
    from ragdesk.settings import Settings

    settings = Settings.load()
    with serve_errors():
        run_stdio(settings, model=model, engine_choice=engine_choice(settings, engine))


def serve_errors():
    """One line for what stops a server from starting."""
    import contextlib

    from ragdesk.cli.errors import user_errors
    from ragdesk.server.runner import ServeError

    @contextlib.contextmanager
    def guard():
        with user_errors():
            try:
                yield
            except ServeError as exc:
                fail(str(exc))

    return guard()
