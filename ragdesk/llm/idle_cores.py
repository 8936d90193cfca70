"""How many CPU cores the rest of the machine leaves idle: the threads a prompt may use.

Evaluating a prompt is one large batch of matrix products: on idle cores it speeds
up almost linearly with threads (SmolLM2 on 2 idle cores: 148 tokens/s on one,
289 on two). On a busy machine a thread whose core another program holds makes
every step wait for it: two prompt threads were twice as slow as one at a load of
4-5 on 2 cores (bench_first_answer.py, README). So before each prompt the engine
asks how busy everything else was since it last asked, and uses the cores left.

"Everything else" includes the rest of ragdesk (an index being built in the app
competes for the same cores); only llama.cpp's own work for the previous answers is
subtracted, from the core-seconds the engine reports with ``note_busy``.
"""

from __future__ import annotations

import functools
import os
import threading
import time

import psutil

# A shorter window says little (the scheduler's granularity); keep the last estimate.
MIN_WINDOW_S = 0.5
# Two cores at 80% idle make 1.6 idle cores: round so that 1.75 counts as 2, 1.5 as 1.
ROUNDING = 0.25


@functools.cache
def physical_cores() -> int:
    """Cores without their hyper-threads (a second thread per core adds little to matrix products)."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def _idle_core_seconds() -> float:
    """Seconds all CPUs together have spent idle since boot (I/O waits count as idle)."""
    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0)


class IdleCores:
    """Measures, between two prompts, how many cores nothing but this engine used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mark = (time.monotonic(), _idle_core_seconds())
        self._own = 0.0  # the engine's core-seconds since the mark
        self._last: float | None = None

    def note_busy(self, core_seconds: float) -> None:
        """The engine spent ``core_seconds`` of CPU (threads x seconds) on its own work."""
        with self._lock:
            self._own += max(0.0, core_seconds)

    def idle(self) -> float | None:
        """Cores idle or used by the engine on average since the last call (None: no window yet)."""
        with self._lock:
            now = (time.monotonic(), _idle_core_seconds())
            wall = now[0] - self._mark[0]
            if wall < MIN_WINDOW_S:
                return self._last
            self._last = (now[1] - self._mark[1] + self._own) / wall
            self._mark, self._own = now, 0.0
            return self._last

    def threads(self, least: int, most: int) -> int:
        """Prompt threads for now: the idle cores, never fewer than ``least`` nor more than ``most``."""
        idle = self.idle()
        if idle is None:
            return least
        return max(least, min(most, int(idle + ROUNDING)))
