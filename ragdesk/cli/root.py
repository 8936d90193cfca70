"""The root ``ragdesk`` group and helpers shared by all commands."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading

import click

from ragdesk import __version__, paths
from ragdesk.cli.errors import fail  # noqa: F401 - re-exported for the command modules


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    help=f"Data folder to use instead of the default (also ${paths.ENV_HOME}).",
)
@click.version_option(__version__, prog_name="ragdesk")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Ask questions of your own documents with a local language model.

    With no command, opens the desktop app.
    """
    if home:
        paths.set_home(home)
    from ragdesk.logging_setup import setup_logging

    setup_logging()  # the same rotating log file as the app's, in the data folder's log folder
    logging.getLogger("ragdesk.cli").info("ragdesk %s", ctx.invoked_subcommand or "(no command)")
    if ctx.invoked_subcommand is None:
        if not has_display():
            click.echo("No display found, so here is the headless tour instead (`ragdesk demo`).\n", err=True)
            ctx.invoke(cli.get_command(ctx, "demo"))  # registered by ragdesk.cli; no import cycle
            return
        from ragdesk.app import main as gui_main

        sys.exit(gui_main([]))


def has_display() -> bool:
    """Whether a desktop session can show a window (always true off Linux/BSD)."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def emit_json(data) -> None:
    """Print machine-readable output (the ``--json`` contract)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@contextlib.contextmanager
def ctrl_c_sets(event: threading.Event, message: str, *, sigterm: bool = False):
    """The first Ctrl-C sets ``event`` (a clean stop) and prints ``message``; a second one aborts.

    With ``sigterm``, SIGTERM (a service manager's stop) asks for the same clean stop.
    """

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        click.echo(f"\n{message} (Ctrl-C again to abort)...", err=True)

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    signums = [signal.SIGINT] + ([signal.SIGTERM] if sigterm else [])
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
