"""Find the files to index under a set of roots, in a stable order.

The walk follows symlinked folders (people link their notes in) but enters
each real folder once, reports symlink loops instead of recursing forever,
and never opens a file: it only looks at names and ``stat`` results, so
re-scanning an unchanged tree stays cheap.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ragdesk.ingest.rules import IngestRules, too_large_reason

# Files inside a folder that mark it as a Python or conda environment.
_ENV_MARKERS = ("pyvenv.cfg", "conda-meta")


@dataclass(frozen=True)
class FileEntry:
    """A candidate file; ``path`` is absolute but not symlink-resolved."""

    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A path the walk passed over.

    ``kind`` is ``"unsupported"`` (another file type, shown only as a count)
    or ``"error"`` (listed to the user with its ``reason``).
    """

    path: Path
    reason: str
    kind: str


def walk(roots: Iterable[Path], rules: IngestRules) -> Iterator[FileEntry | Skipped]:
    """Yield every file under ``roots`` to index, and every one passed over.

    Roots may be files or folders and are taken in the given order; folder
    contents come in sorted name order, depth first. A file named explicitly as
    a root is taken even if hidden or inside a skipped folder.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for root in roots:
        path = Path(os.path.abspath(os.fspath(root)))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if os.path.islink(path):
                yield Skipped(path, "broken symlink (its target does not exist)", "error")
            else:
                yield Skipped(path, "no such file or folder", "error")
            continue
        except OSError as exc:
            yield Skipped(path, _os_reason("cannot access", exc), "error")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(path, st, rules, seen_dirs, seen_files)
        elif not rules.accepts_name(path.name):
            yield Skipped(path, f"unsupported file type ({path.suffix or 'no extension'})", "error")
        else:
            item = _file_item(path, st, rules, seen_files)
            if item is not None:
                yield item


def _walk_dir(root: Path, root_st: os.stat_result, rules, seen_dirs, seen_files):
    """Depth-first, sorted walk with an explicit stack (no recursion limit)."""
    root_id = (root_st.st_dev, root_st.st_ino)
    if root_id in seen_dirs:
        return  # already walked through another root or link
    seen_dirs.add(root_id)
    # Each frame: (folder identity, iterator over its sorted entries); the
    # identities on the stack are the current folder's ancestors.
    stack = []
    listed = _list_dir(root)
    if isinstance(listed, Skipped):
        yield listed
        return
    stack.append((root_id, iter(listed)))
    while stack:
        _, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        name = entry.name
        if rules.skip_hidden and name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if is_dir:
            if name in rules.skip_dirs:
                continue
            try:
                # os.stat, not entry.stat(): on Windows the latter has no inode
                # numbers, and identities are what catch loops and duplicates.
                st = os.stat(path)
            except FileNotFoundError:
                continue  # removed since the listing
            except OSError as exc:
                yield Skipped(path, _os_reason("cannot open folder", exc), "error")
                continue
            ident = (st.st_dev, st.st_ino)
            if any(ident == frame_id for frame_id, _ in stack):
                yield Skipped(path, "symlink loop (links back to a folder that contains it)", "error")
                continue
            if ident in seen_dirs:
                continue  # the same folder reached through a second link
            listed = _list_dir(path)
            if isinstance(listed, Skipped):
                yield listed
                continue
            seen_dirs.add(ident)
            if any(e.name in _ENV_MARKERS for e in listed):
                continue  # a virtualenv / conda env: installed packages, not documents
            stack.append((ident, iter(listed)))
            continue
        if not rules.accepts_name(name):
            yield Skipped(path, "unsupported file type", "unsupported")
            continue
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if entry.is_symlink():
                yield Skipped(path, "broken symlink (its target does not exist)", "error")
            # else: deleted since the listing; nothing left to report
            continue
        except OSError as exc:
            reason = "symlink loop" if exc.errno == errno.ELOOP else None
            yield Skipped(path, reason or _os_reason("cannot access", exc), "error")
            continue
        item = _file_item(path, st, rules, seen_files)
        if item is not None:
            yield item


def _list_dir(path: Path) -> list[os.DirEntry] | Skipped:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        return Skipped(path, _os_reason("cannot open folder", exc), "error")


def _file_item(path: Path, st: os.stat_result, rules: IngestRules, seen_files):
    """A FileEntry, a Skipped, or None for a file already yielded."""
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device named *.txt would block or never end when read.
        return Skipped(path, "not a regular file", "error")
    ident = (st.st_dev, st.st_ino)
    if ident in seen_files:
        return None  # the same file reached through a link or a second root
    seen_files.add(ident)
    if st.st_size == 0:
        return Skipped(path, "empty file", "error")
    if st.st_size > rules.max_file_bytes:
        return Skipped(path, too_large_reason(st.st_size, rules.max_file_bytes), "error")
    return FileEntry(path, st.st_size, st.st_mtime_ns)


def _os_reason(what: str, exc: OSError) -> str:
    detail = (exc.strerror or str(exc)).lower() if isinstance(exc, OSError) else str(exc)
    return f"{what}: {detail}"
