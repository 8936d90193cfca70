"""Read a file's bytes once, and make sure they are one consistent version."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.rules import IngestRules, too_large_reason
from ragdesk.ingest.walker import FileEntry


@dataclass(frozen=True)
class LoadedFile:
    """A file's bytes with the stat values and hash of exactly those bytes."""

    path: Path
    data: bytes
    size: int
    mtime_ns: int
    sha256: str


def load(entry: FileEntry, rules: IngestRules) -> LoadedFile:
    """Read ``entry`` whole; raise SkipFile if it can't be read as one version.

    The file is stat'ed before opening and again after reading: if size,
    mtime, ctime or inode moved, another program was writing it and the bytes
    may mix two versions, so it is skipped now and picked up on the next run.
    """
    path = entry.path
    before = _stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise SkipFile("not a regular file")
    if before.st_size > rules.max_file_bytes:
        raise SkipFile(too_large_reason(before.st_size, rules.max_file_bytes))
    try:
        with open(path, "rb") as fh:
            data = _read_all(fh, rules.max_file_bytes + 1)
    except FileNotFoundError:
        raise SkipFile("file disappeared before it could be read") from None
    except PermissionError:
        raise SkipFile("cannot read: permission denied") from None
    except IsADirectoryError:
        raise SkipFile("not a regular file") from None
    except OSError as exc:
        raise SkipFile(f"cannot read: {(exc.strerror or str(exc)).lower()}") from None
    if len(data) > rules.max_file_bytes:
        raise SkipFile(too_large_reason(len(data), rules.max_file_bytes))
    try:
        after = os.stat(path)
    except FileNotFoundError:
        raise SkipFile("file disappeared while being read; will retry next time") from None
    except OSError as exc:
        raise SkipFile(f"cannot read: {(exc.strerror or str(exc)).lower()}") from None
    if _version(before) != _version(after) or len(data) != before.st_size:
        raise SkipFile("changed while being read; will retry next time")
    return LoadedFile(
        path=path,
        data=data,
        size=len(data),
        mtime_ns=before.st_mtime_ns,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise SkipFile("file disappeared before it could be read") from None
    except PermissionError:
        raise SkipFile("cannot read: permission denied") from None
    except OSError as exc:
        raise SkipFile(f"cannot read: {(exc.strerror or str(exc)).lower()}") from None


def _version(st: os.stat_result) -> tuple:
    # ctime catches a rewrite that restored the old mtime (e.g. rsync -t).
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_all(fh: BinaryIO, limit: int) -> bytes:
    """Read at most ``limit`` bytes (a separate function so tests can inject faults)."""
    return fh.read(limit)
