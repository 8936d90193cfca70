"""Ignore files: ``.gitignore`` (at every level, with negations), ``.git/info/exclude`` and ``.ragdeskignore``.

Patterns follow git's rules, matched by ``pathspec``: a pattern in a folder's
``.gitignore`` is relative to that folder; within one file the last matching
pattern decides; a deeper file overrides a shallower one; ``.git/info/exclude``
comes below every ``.gitignore``. ``.ragdeskignore`` has the same syntax and
overrides the ``.gitignore`` of its own folder (it is the user's word to
ragdesk). A folder that is ignored is never entered, so, as in git, nothing
under it can be re-included by a negation.

Every decision names its rule (file, line, pattern), so the user can see why a
path was left out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GITIGNORE = ".gitignore"
RAGDESKIGNORE = ".ragdeskignore"
# Per folder, lowest precedence first.
IGNORE_FILE_NAMES = (GITIGNORE, RAGDESKIGNORE)
MAX_IGNORE_FILE_BYTES = 1024 * 1024  # a bigger "ignore file" is not one: leave it unread


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern line of an ignore file: what the user sees as the reason for a skip."""

    file: Path  # the ignore file
    base: Path  # the folder its patterns are relative to
    line: int  # 1-based
    pattern: str

    def __str__(self) -> str:
        name = os.path.relpath(self.file, self.base) if self.file.parent != self.base else self.file.name
        return f"{Path(name).as_posix()}:{self.line} `{self.pattern}` in {self.base}"


class IgnoreFile:
    """The patterns of one ignore file, relative to ``base``."""

    def __init__(self, file: Path, base: Path, lines: list[str]) -> None:
        import pathspec  # only folders that have ignore files pay for the import

        self.file = file
        self.base = base
        self.prefix = str(base).rstrip(os.sep) + os.sep  # string work: pathlib is the walk's bottleneck
        self.lines = [line.rstrip("\r\n") for line in lines]
        # Blank lines become comments so that pattern index + 1 is the line number.
        self.spec = pathspec.GitIgnoreSpec.from_lines(
            [line if line.strip() else "#" for line in self.lines]
        )

    @classmethod
    def read(cls, file: Path, base: Path) -> IgnoreFile | None:
        """The file's patterns, or None when it can't be read (then it ignores nothing)."""
        try:
            if file.stat().st_size > MAX_IGNORE_FILE_BYTES:
                return None
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return cls(file, base, text.splitlines())

    def decide(self, rel: str) -> tuple[bool, IgnoreRule] | None:
        """(ignored?, rule) for a path relative to ``base`` (folders end in '/'), or None if no pattern matches."""
        result = self.spec.check_file(rel)
        if result.include is None or result.index is None:
            return None
        line = result.index + 1
        return bool(result.include), IgnoreRule(self.file, self.base, line, self.lines[result.index].strip())


class IgnoreStack:
    """The ignore files in force in one folder, lowest precedence first (immutable)."""

    __slots__ = ("files",)

    def __init__(self, files: tuple[IgnoreFile, ...] = ()) -> None:
        self.files = files

    def __bool__(self) -> bool:
        return bool(self.files)

    def entering(self, folder: Path, names: set[str] | frozenset[str]) -> IgnoreStack:
        """The stack inside ``folder``, whose entry names are ``names`` (reads its ignore files)."""
        added = []
        if ".git" in names:  # a repository's top: its private excludes rank below any .gitignore
            exclude = IgnoreFile.read(folder / ".git" / "info" / "exclude", folder)
            if exclude is not None:
                added.append(exclude)
        for name in IGNORE_FILE_NAMES:
            if name in names:
                parsed = IgnoreFile.read(folder / name, folder)
                if parsed is not None:
                    added.append(parsed)
        if not added:
            return self
        return IgnoreStack(self.files + tuple(added))

    def match(self, path: str | os.PathLike, is_dir: bool) -> IgnoreRule | None:
        """The rule that ignores ``path`` (absolute), or None if it is not ignored."""
        path = os.fspath(path)
        for ignore_file in reversed(self.files):
            if not path.startswith(ignore_file.prefix):
                continue
            rel = path[len(ignore_file.prefix):]
            if os.sep != "/":
                rel = rel.replace(os.sep, "/")
            decided = ignore_file.decide(rel + "/" if is_dir else rel)
            if decided is not None:
                ignored, rule = decided
                return rule if ignored else None
        return None


def repository_top(folder: Path) -> Path | None:
    """The nearest folder at or above ``folder`` holding a ``.git``, if any."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def listing_names(folder: Path) -> set[str]:
    """The names in ``folder`` that matter for ignore files (cheap: a few stats, no listing)."""
    return {name for name in (".git", *IGNORE_FILE_NAMES) if os.path.lexists(folder / name)}
