"""Where the tests' temporary folders live: in memory (``/dev/shm``) when the machine has room.

Almost every test writes a fresh SQLite database, and SQLite syncs it to disk
(``fdatasync``) several times on creation and on each checkpoint. On a disk each
sync waits for the device (tens of milliseconds on a busy machine); on a tmpfs it
returns at once. The code under test is the same either way; only the wait goes.

``RAGDESK_TEST_TMP=disk`` keeps pytest's usual place (the system temp folder), as do
``--basetemp`` and ``PYTEST_DEBUG_TEMPROOT`` when given.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ENV = "RAGDESK_TEST_TMP"  # "disk": pytest's usual temp folder; unset or "ram": /dev/shm when it has room
RAM_DIR = Path("/dev/shm")
MIN_FREE_BYTES = 4 << 30  # the slow pass writes models and builds; a small /dev/shm (containers: 64 MB) is not used


def ram_temp_root(env: dict[str, str] | None = None) -> Path | None:
    """``/dev/shm`` when it may hold the tests' folders, else None (pytest's default place)."""
    env = os.environ if env is None else env
    if env.get(ENV, "ram") == "disk" or env.get("PYTEST_DEBUG_TEMPROOT") or not sys.platform.startswith("linux"):
        return None
    if not RAM_DIR.is_dir() or not os.access(RAM_DIR, os.W_OK | os.X_OK):
        return None
    try:
        return RAM_DIR if shutil.disk_usage(RAM_DIR).free >= MIN_FREE_BYTES else None
    except OSError:
        return None


def use_ram_temp_root() -> Path | None:
    """Point pytest's temporary folders (``tmp_path``, ``tmp_path_factory``) at :func:`ram_temp_root`."""
    root = ram_temp_root()
    if root is not None:
        # pytest reads it when the first temporary folder is made, after conftest is imported.
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(root)
    return root
