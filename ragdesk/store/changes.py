"""Coalescing and debouncing file-system changes before they are synced.

An editor's save, a ``git checkout`` or a build writes the same files many
times in a burst. Changes are collected per watched folder as a set of paths
(one entry per path, however many events) and released as one batch once the
folder has been quiet for ``quiet_s``, or ``max_wait_s`` after the first change
of the batch if the burst never stops, so a save storm is indexed once and a
steady trickle is still indexed within seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path

DEFAULT_QUIET_S = 1.0
DEFAULT_MAX_WAIT_S = 5.0

Batch = dict[Hashable, list[Path]]  # watch target -> changed paths (no path under another)


class ChangeQueue:
    """Thread-safe: watcher threads ``add``, one consumer ``take``s ready batches."""

    def __init__(
        self,
        quiet_s: float = DEFAULT_QUIET_S,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet_s = quiet_s
        self.max_wait_s = max(max_wait_s, quiet_s)
        self.clock = clock
        self._pending: dict[Hashable, set[Path]] = {}
        self._first = 0.0  # when the pending batch began
        self._last = 0.0  # when its latest change came
        self._cond = threading.Condition()
        self.events = 0  # changes seen, for summaries

    def add(self, target: Hashable, path: Path) -> None:
        with self._cond:
            now = self.clock()
            if not self._pending:
                self._first = now
            self._last = now
            self._pending.setdefault(target, set()).add(path)
            self.events += 1
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return sum(len(paths) for paths in self._pending.values())

    def _due_in(self, now: float) -> float | None:
        """Seconds until the pending batch is due (0: now), None when nothing is pending."""
        if not self._pending:
            return None
        return max(0.0, min(self._last + self.quiet_s, self._first + self.max_wait_s) - now)

    def take(self, timeout: float | None = 0.0) -> Batch | None:
        """The pending batch once it is due, waiting up to ``timeout`` seconds for that (None: forever)."""
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            while True:
                now = self.clock()
                due = self._due_in(now)
                if due == 0.0:
                    batch = {target: _outermost(paths) for target, paths in self._pending.items()}
                    self._pending = {}
                    return batch
                left = None if deadline is None else deadline - now
                if left is not None and left <= 0:
                    return None
                waits = [w for w in (due, left) if w is not None]
                self._cond.wait(min(waits) if waits else None)

    def wake(self) -> None:
        """Let a consumer blocked in ``take`` re-check (e.g. to see a stop flag)."""
        with self._cond:
            self._cond.notify_all()


def _outermost(paths: set[Path]) -> list[Path]:
    """Sorted paths without those inside another one (a folder's sync covers its contents)."""
    return sorted(p for p in paths if not any(parent in paths for parent in p.parents))
