"""The ``ragdesk`` command: a thin shell over the Python API.

Each command group lives in its own module and registers itself on the root
group; heavy libraries (torch, llama.cpp) are imported inside commands only, so
``ragdesk index`` on an unchanged folder starts in a fraction of a second.
"""

# Importing the command modules registers their commands on ``cli``.
from ragdesk.cli import (  # noqa: E402,F401
    chat_cmds,
    compare_cmds,
    demo_cmds,
    eval_cmds,
    lora_cmds,
    models_cmds,
    serve_cmds,
    store_cmds,
    train_cmds,
    watch_cmds,
)
from ragdesk.cli.root import cli


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ragdesk")
