"""The app's log: a rotating file in the platform's log folder (or ``logs/`` in a relocated home)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path

from ragdesk import paths

LOG_NAME = "ragdesk.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

_handler: logging.Handler | None = None


def log_file() -> Path:
    """Where the current log file is (or will be) written."""
    if _handler is not None and isinstance(_handler, logging.FileHandler):
        return Path(_handler.baseFilename)
    return paths.log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Send ragdesk's logging to a rotating file and log uncaught exceptions; idempotent."""
    global _handler
    root = logging.getLogger()
    if _handler is None:
        try:
            _handler = logging.handlers.RotatingFileHandler(
                paths.log_dir() / LOG_NAME, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        except OSError:  # read-only or full disk: keep running, log to stderr
            _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(_handler)
        _install_excepthooks()
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
