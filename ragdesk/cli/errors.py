"""How the CLI reports a failure: one line on stderr and exit code 1, never a traceback for user errors."""

from __future__ import annotations

import contextlib
import sys

import click


def fail(message: str, code: int = 1) -> None:
    """Print a one-line error and exit; never a traceback for user errors."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def user_errors():
    """Turn every failure the user can act on into ``Error: <message>`` (ragdesk.errors decides the words).

    An unexpected exception (a bug) keeps its traceback.
    """
    from ragdesk.errors import user_message

    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only known failures are turned into messages
        message = user_message(exc)
        if message is None:
            raise
        fail(message)
