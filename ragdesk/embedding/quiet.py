"""Keep transformers' weight-loading progress bars and warnings off the user's terminal."""

from __future__ import annotations


def quiet_transformers() -> None:
    """No weight-loading progress bars or warnings on the user's terminal."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
