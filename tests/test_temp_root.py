"""The tests' temporary folders go to memory where there is room, and stay put when told."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from support.temp_root import ENV, RAM_DIR, ram_temp_root


def test_disk_or_a_given_temp_root_keeps_pytests_place():
    assert ram_temp_root({ENV: "disk"}) is None
    assert ram_temp_root({"PYTEST_DEBUG_TEMPROOT": "/somewhere"}) is None
    assert ram_temp_root({ENV: "ram"}) in (None, RAM_DIR)  # None: no /dev/shm, or too small


def test_tmp_path_is_under_the_chosen_root(tmp_path, pytestconfig):
    if pytestconfig.getoption("basetemp"):  # --basetemp: the user's choice, nothing to check
        return
    root = Path(os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir())
    assert tmp_path.resolve().is_relative_to(root.resolve())
    if os.environ.get(ENV) == "disk":
        assert root.resolve() != RAM_DIR.resolve()
