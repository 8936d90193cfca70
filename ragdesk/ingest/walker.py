"""Find the files to index under a set of roots, in a stable order.

The walk follows symlinked folders (people link their notes in) but enters
each real folder once, reports symlink loops instead of recursing forever,
and never opens a file to index: it only looks at names and ``stat`` results
(and reads ignore files), so re-scanning an unchanged tree stays cheap.

What is left out by a rule (hidden names, the skip list, ``.gitignore`` and
``.ragdeskignore`` patterns) is reported with the rule, and an ignored folder
is never entered.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ragdesk.ingest.ignore import IgnoreStack, listing_names, repository_top
from ragdesk.ingest.rules import IngestRules, too_large_reason

# Files inside a folder that mark it as a Python or conda environment.
_ENV_MARKERS = ("pyvenv.cfg", "conda-meta")
HIDDEN_RULE = "hidden name (starts with '.')"


@dataclass(frozen=True)
class FileEntry:
    """A candidate file; ``path`` is absolute but not symlink-resolved."""

    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A path the walk passed over.

    ``kind`` is ``"unsupported"`` (another file type, shown only as a count),
    ``"error"`` (listed to the user with its ``reason``) or ``"ignored"``
    (left out by a rule; ``reason`` names the rule, ``folder`` says whether a
    whole folder was left out).
    """

    path: Path
    reason: str
    kind: str
    folder: bool = False


def walk(
    roots: Iterable[Path], rules: IngestRules, *, within: Path | None = None, missing_ok: bool = False
) -> Iterator[FileEntry | Skipped]:
    """Yield every file under ``roots`` to index, and every one passed over.

    Roots may be files or folders and are taken in the given order; folder
    contents come in sorted name order, depth first. A file named explicitly as
    a root is taken even if hidden or inside a skipped folder, unless ``within``
    names the folder the roots belong to (a watched folder): then the rules
    apply to them as if the walk had started at ``within``. With
    ``missing_ok`` a root that does not exist is passed over in silence (a
    deletion, not an error).
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for root in roots:
        path = Path(os.path.abspath(os.fspath(root)))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if missing_ok:
                continue
            if os.path.islink(path):
                yield Skipped(path, "broken symlink (its target does not exist)", "error")
            else:
                yield Skipped(path, "no such file or folder", "error")
            continue
        except OSError as exc:
            yield Skipped(path, _os_reason("cannot access", exc), "error")
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        ignores, ruled_out = _rules_above(path, is_dir, rules, within)
        if ruled_out is not None:
            if is_dir or rules.accepts_name(path.name):
                yield Skipped(path, ruled_out, "ignored", folder=is_dir)
            continue
        if is_dir:
            yield from _walk_dir(path, st, rules, seen_dirs, seen_files, ignores)
        elif not rules.accepts_name(path.name):
            # Named by the user: an error to explain; found by a watcher: just another file type.
            kind = "error" if within is None else "unsupported"
            yield Skipped(path, f"unsupported file type ({path.suffix or 'no extension'})", kind)
        else:
            item = _file_item(path, st, rules, seen_files)
            if item is not None:
                yield item


def _rules_above(path: Path, is_dir: bool, rules: IngestRules, within: Path | None):
    """The ignore files in force at a root ``path``, and the rule that leaves it out, if one does.

    As in git, the ``.gitignore`` files between the repository's top and
    ``path`` apply below it. A root the user named is never left out, but one
    inside a watched folder (``within``) is, by any rule that would have left
    it out of a walk of that folder. When what the user named lies in a place
    the ignore files above it exclude (a home folder under a dotfiles
    repository ignoring ``*``), the user's choice wins: those files are dropped.
    """
    top = repository_top(path.parent) if rules.respect_ignore_files else None
    if within is not None and (top is None or not _is_under(within, top)):
        top = within
    if top is None or path == top or not _is_under(path, top):
        return IgnoreStack(), None
    named = within or path  # what the user chose to index
    ignores = IgnoreStack()
    folder = top
    for part in path.relative_to(top).parts:
        if rules.respect_ignore_files:
            ignores = ignores.entering(folder, listing_names(folder))
        here = folder / part
        here_is_dir = is_dir or here != path
        if _is_under(named, here):  # at or above what the user named
            if ignores and ignores.match(here, here_is_dir) is not None:
                ignores = IgnoreStack()
        else:
            reason = _rule_for(part, here, here_is_dir, rules, ignores)
            if reason is None and here_is_dir:
                reason = _env_marker(here)
            if reason is not None:
                return ignores, reason
        folder = here
    return ignores, None


def _is_under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _rule_for(name: str, path: str | Path, is_dir: bool, rules: IngestRules, ignores: IgnoreStack) -> str | None:
    """The rule that leaves out a folder entry, as the user reads it, or None."""
    if rules.skip_hidden and name.startswith("."):
        return HIDDEN_RULE
    if is_dir and name in rules.skip_dirs:
        return f"skip list `{name}`"
    if ignores:
        rule = ignores.match(path, is_dir)
        if rule is not None:
            return str(rule)
    return None


def _env_marker(folder: Path) -> str | None:
    for marker in _ENV_MARKERS:
        if os.path.lexists(folder / marker):
            return f"Python environment ({marker})"
    return None


def _walk_dir(root: Path, root_st: os.stat_result, rules, seen_dirs, seen_files, ignores: IgnoreStack):
    """Depth-first, sorted walk with an explicit stack (no recursion limit)."""
    root_id = (root_st.st_dev, root_st.st_ino)
    if root_id in seen_dirs:
        return  # already walked through another root or link
    seen_dirs.add(root_id)
    # Each frame: (folder identity, iterator over its sorted entries, ignore
    # files in force there); the identities on the stack are the current
    # folder's ancestors.
    stack = []
    listed = _list_dir(root)
    if isinstance(listed, Skipped):
        yield listed
        return
    stack.append((root_id, iter(listed), _entering(ignores, root, listed, rules)))
    while stack:
        _, entries, ignores = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        name = entry.name
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows symlinks
        except OSError:
            is_dir = False
        if not is_dir and not rules.accepts_name(name):
            if not (rules.skip_hidden and name.startswith(".")):
                yield Skipped(path, "unsupported file type", "unsupported")
            continue
        reason = _rule_for(name, entry.path, is_dir, rules, ignores)
        if reason is not None:
            yield Skipped(path, reason, "ignored", folder=is_dir)
            continue
        if is_dir:
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
            if any(ident == frame[0] for frame in stack):
                yield Skipped(path, "symlink loop (links back to a folder that contains it)", "error")
                continue
            if ident in seen_dirs:
                continue  # the same folder reached through a second link
            listed = _list_dir(path)
            if isinstance(listed, Skipped):
                yield listed
                continue
            seen_dirs.add(ident)
            marker = next((e.name for e in listed if e.name in _ENV_MARKERS), None)
            if marker is not None:  # a virtualenv / conda env: installed packages, not documents
                yield Skipped(path, f"Python environment ({marker})", "ignored", folder=True)
                continue
            stack.append((ident, iter(listed), _entering(ignores, path, listed, rules)))
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


def _entering(ignores: IgnoreStack, folder: Path, listed: list[os.DirEntry], rules: IngestRules) -> IgnoreStack:
    if not rules.respect_ignore_files:
        return ignores
    return ignores.entering(folder, {e.name for e in listed})


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
