"""Unreadable files and folders, with real permissions.

Root reads anything whatever its mode bits, so when the suite runs as root
the check runs in a forked child that has dropped to the unprivileged
``nobody`` user (65534) first; as any other user, ``chmod 000`` is enough.
In both cases a readable control file proves the reader can read at all.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest

from ragdesk.ingest import IngestRules, SkipFile, load, walk

RULES = IngestRules.default()
NOBODY = 65534


def as_unprivileged(fn, *args):
    """``fn(*args)`` as a user that file modes apply to; returns its (picklable) result."""
    if os.geteuid() != 0:
        return fn(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root for good, run, report, exit without pytest teardown
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = ("ok", fn(*args))
        except BaseException as exc:  # reported to the parent, which re-raises
            result = ("error", f"{type(exc).__name__}: {exc}")
        with os.fdopen(write_end, "wb") as fh:
            pickle.dump(result, fh)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        payload = fh.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(payload)
    if status != "ok":
        raise AssertionError(f"child failed: {value}")
    return value


@pytest.fixture
def open_dir():
    """A temp folder every user may enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ragdesk-perm-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


def _load_all(paths):
    out = {}
    for path in paths:
        (entry,) = list(walk([path], RULES))
        try:
            out[str(path)] = ("loaded", load(entry, RULES).data)
        except SkipFile as exc:
            out[str(path)] = ("skipped", str(exc))
    return out


def test_unreadable_file_is_skipped_with_a_reason(open_dir):
    secret = open_dir / "secret.txt"
    secret.write_text("private")
    public = open_dir / "public.txt"
    public.write_text("anyone may read this")
    public.chmod(0o644)
    secret.chmod(0o000)
    results = as_unprivileged(_load_all, [public, secret])
    assert results[str(public)] == ("loaded", b"anyone may read this")
    assert results[str(secret)] == ("skipped", "cannot read: permission denied")


def _walk_summary(root):
    return [
        (type(i).__name__, str(i.path), getattr(i, "reason", None), getattr(i, "kind", None))
        for i in walk([root], RULES)
    ]


def test_unreadable_folder_is_reported_and_the_rest_walked(open_dir):
    (open_dir / "a.md").write_text("# readable\n")
    locked = open_dir / "locked"
    locked.mkdir()
    (locked / "inside.md").write_text("# never seen\n")
    (open_dir / "z.md").write_text("# readable too\n")
    for p in open_dir.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    locked.chmod(0o000)
    summary = as_unprivileged(_walk_summary, open_dir)
    assert summary == [
        ("FileEntry", str(open_dir / "a.md"), None, None),
        ("Skipped", str(locked), "cannot open folder: permission denied", "error"),
        ("FileEntry", str(open_dir / "z.md"), None, None),
    ]
