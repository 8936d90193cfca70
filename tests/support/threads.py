"""The one place every real-model test gets its llama.cpp thread count from.

Greedy text can change with the thread count (and the CPU's SIMD path), so CI
runs the slow tests twice, the second time with ``RAGDESK_TEST_THREADS=1``;
tests therefore assert only what holds for any count.
"""

from __future__ import annotations

import os

ENV = "RAGDESK_TEST_THREADS"


def threads_for_tests(default: int | None = 1) -> int | None:
    """$RAGDESK_TEST_THREADS when set, else ``default`` (None: llama.cpp's own choice)."""
    value = os.environ.get(ENV, "").strip()
    return int(value) if value else default
