"""Routing llama.cpp's log to Python logging, keeping recent problems for error messages.

llama.cpp logs through one process-wide callback. We send it to Python logging
at DEBUG (the app stays quiet) and keep the recent warnings and errors, because
a failed load or adapter only returns NULL: the reason is in the log.
"""

from __future__ import annotations

import ctypes
import logging
from collections import deque
from typing import Any

log = logging.getLogger("ragdesk.llm.engine")

_recent_problems: deque[str] = deque(maxlen=40)
_log_callback: Any = None
_last_level = 0
# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (llama-cpp-python's
# own _logger.py still documents an older numbering).
_LOG_PROBLEMS, _LOG_CONT = (3, 4), 5


def install_log_capture() -> None:
    """Install the callback once per process (llama.cpp has only one)."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def on_log(level: int, text: bytes, _user: Any) -> None:
        global _last_level
        message = text.decode("utf-8", errors="replace") if text else ""
        if level == _LOG_CONT:  # continues the previous message
            level = _last_level
            if level in _LOG_PROBLEMS and _recent_problems:
                _recent_problems[-1] += message
        elif level in _LOG_PROBLEMS:
            _recent_problems.append(message)
        _last_level = level
        if message.strip():
            log.debug("llama.cpp: %s", message.rstrip())

    _log_callback = on_log  # keep the ctypes thunk alive for the life of the process
    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))


def recent_problems() -> list[str]:
    """The warnings and errors llama.cpp logged lately, newest last."""
    return [line.strip() for line in _recent_problems if line.strip()]


def clear_recent_problems() -> None:
    """Forget earlier problems before an operation whose failure we want to explain."""
    _recent_problems.clear()
