"""The one log set-up for the CLI and the app: a rotating file in the log folder.

The file is ``ragdesk.log`` in the platform's log folder (or ``logs/`` in a
relocated home); ragdesk's own messages go there at INFO, libraries' at WARNING,
and uncaught exceptions (a Qt slot's, a thread's) are logged before they print.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
from pathlib import Path

from ragdesk import paths

LOG_NAME = "ragdesk.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

_handler: logging.Handler | None = None
_hooked = False


def _target() -> Path:
    return Path(os.path.abspath(paths.log_dir() / LOG_NAME))  # as FileHandler spells it


def log_file() -> Path:
    """Where the current log file is (or will be) written."""
    if _handler is not None and isinstance(_handler, logging.FileHandler):
        return Path(_handler.baseFilename)
    return paths.log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Send ragdesk's logging to a rotating file and log uncaught exceptions; idempotent."""
    global _handler, _hooked
    root = logging.getLogger()
    try:
        target = _target()
    except OSError:  # the log folder can't be made
        target = None
    if isinstance(_handler, logging.FileHandler) and target is not None and Path(_handler.baseFilename) != target:
        root.removeHandler(_handler)  # the data folder changed (``--home``): follow it
        _handler.close()
        _handler = None
    if _handler is None:
        try:
            if target is None:
                raise OSError("no log folder")
            _handler = logging.handlers.RotatingFileHandler(
                target, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        except OSError:  # read-only or full disk: keep running, log to stderr
            _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(_handler)
    if not _hooked:
        _install_excepthooks()
        _hooked = True
    # Only ragdesk's own messages at ``level``; libraries keep the root's WARNING.
    logging.getLogger("ragdesk").setLevel(level)
    return log_file()


def _install_excepthooks() -> None:
    # An exception escaping a Qt slot would otherwise only reach stderr, which a
    # double-clicked app does not have: put it in the log where the error dialog points.
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        logging.getLogger("ragdesk").critical("uncaught exception", exc_info=(exc_type, exc, tb))
        previous(exc_type, exc, tb)

    def thread_hook(args):
        logging.getLogger("ragdesk").critical(
            "uncaught exception in thread %s", args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = hook
    threading.excepthook = thread_hook
