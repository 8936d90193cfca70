"""Live folders: watch a collection's source folders and keep the collection in sync.

``FolderWatcher`` puts watchdog's observer (inotify, FSEvents, ReadDirectoryChangesW)
on the folders and files a collection was built from, drops events that the
rules make pointless (hidden names, the skip list's folders, other file types),
and coalesces the rest per source in a :class:`ChangeQueue`. Whoever owns the
store takes the ready batches and hands them to :func:`sync_batch`, on its own
thread: ``ragdesk watch`` in its main loop, the app on its index worker.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ragdesk.ingest import IngestRules
from ragdesk.ingest.ignore import IGNORE_FILE_NAMES
from ragdesk.store.changes import DEFAULT_MAX_WAIT_S, DEFAULT_QUIET_S, Batch, ChangeQueue
from ragdesk.store.indexer import CancelFn, IndexReport

log = logging.getLogger(__name__)

_FILE_EVENTS = {"created", "modified", "deleted", "moved", "closed"}
_FOLDER_EVENTS = {"created", "deleted", "moved"}  # a folder's "modified" repeats its entries' events


@dataclass(frozen=True)
class WatchTarget:
    """One source of a collection: a folder (watched with everything below) or a single file."""

    collection: str
    path: Path
    is_file: bool = False

    @property
    def folder(self) -> Path:
        """The folder the observer watches for this target."""
        return self.path.parent if self.is_file else self.path

    def covers(self, path: Path) -> bool:
        if self.is_file:
            return path == self.path
        return path == self.path or self.path in path.parents


def targets_for(sources: dict[str, list[str]]) -> list[WatchTarget]:
    """Watch targets for ``{collection: [source paths]}``; sources that no longer exist are left out."""
    targets = []
    for collection, paths in sources.items():
        for source in paths:
            path = Path(os.path.abspath(source))
            if path.is_dir():
                targets.append(WatchTarget(collection, path))
            elif path.is_file():
                targets.append(WatchTarget(collection, path, is_file=True))
    return targets


class FolderWatcher:
    """Watches targets and coalesces their changes; ``take`` returns batches ready to sync."""

    def __init__(
        self,
        targets: Iterable[WatchTarget],
        rules: IngestRules,
        *,
        quiet_s: float = DEFAULT_QUIET_S,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        self.targets = sorted(set(targets), key=lambda t: (t.collection, len(t.path.parts), str(t.path)))
        self.rules = rules
        self.queue = ChangeQueue(quiet_s, max_wait_s)
        self.problems: list[tuple[str, str]] = []  # (folder, why it is not watched)
        self._observer = None

    @property
    def folders(self) -> list[Path]:
        """The distinct folders and files being kept in sync."""
        return sorted({t.path for t in self.targets})

    def start(self) -> None:
        """Start watching (a folder that can't be watched goes to ``problems``, the rest are watched)."""
        from watchdog.observers import Observer

        self._observer = Observer()
        self._observer.daemon = True
        # Started before scheduling: a running observer sets each watch up in ``schedule``,
        # so a folder that can't be watched fails alone, there, instead of failing ``start``.
        self._observer.start()
        handler = _Handler(self)
        recursive = sorted({t.folder for t in self.targets if not t.is_file}, key=lambda p: len(p.parts))
        scheduled: list[Path] = []
        for folder in recursive:
            if any(s in folder.parents for s in scheduled):
                continue  # already inside a watched folder
            self._schedule(handler, folder, True, scheduled)
        for target in self.targets:
            if target.is_file and not any(s == target.folder or s in target.folder.parents for s in scheduled):
                self._schedule(handler, target.folder, False, scheduled)

    def _schedule(self, handler, folder: Path, recursive: bool, scheduled: list[Path]) -> None:
        try:
            self._observer.schedule(handler, str(folder), recursive=recursive)
        except OSError as exc:  # e.g. the inotify watch limit, or the folder vanished
            log.warning("cannot watch %s: %s", folder, exc)
            if exc.errno in (errno.ENOSPC, errno.EMFILE):  # what inotify says when its limits are reached
                why = "too many folders for the system's file watch limit (fs.inotify.max_user_watches)"
            else:
                why = (exc.strerror or str(exc)).lower()
            self.problems.append((str(folder), f"cannot watch: {why}"))
            return
        scheduled.append(folder)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self.queue.wake()

    def take(self, timeout: float | None = 0.0) -> Batch | None:
        """The next batch ``{WatchTarget: [paths]}`` once it is due (waits up to ``timeout`` s)."""
        return self.queue.take(timeout)

    def changed(self, path: Path, is_dir: bool) -> None:
        """Queue a changed path for every target that covers it (innermost source per collection)."""
        if not self._worth_syncing(path, is_dir):
            return
        if path.name in IGNORE_FILE_NAMES:
            path, is_dir = path.parent, True  # new rules: the whole folder is re-walked
        chosen: dict[str, WatchTarget] = {}
        for target in self.targets:  # sorted shallow to deep: the last one that covers wins
            if target.covers(path):
                chosen[target.collection] = target
        for target in chosen.values():
            self.queue.add(target, path)

    def _worth_syncing(self, path: Path, is_dir: bool) -> bool:
        """A cheap first filter on the observer's thread; the indexer's walk applies every rule."""
        if not is_dir and not self.rules.accepts_name(path.name) and path.name not in IGNORE_FILE_NAMES:
            return False
        for target in self.targets:
            if target.covers(path) and not target.is_file:
                parts = path.relative_to(target.path).parts[:-1] if path != target.path else ()
                if any(self._left_out(part) for part in parts):
                    continue
                return True
            if target.covers(path):
                return True
        return False

    def _left_out(self, folder_name: str) -> bool:
        return (self.rules.skip_hidden and folder_name.startswith(".")) or folder_name in self.rules.skip_dirs


class _Handler:
    """watchdog's callback object: runs on the observer's thread, only queues paths."""

    def __init__(self, watcher: FolderWatcher) -> None:
        self.watcher = watcher

    def dispatch(self, event) -> None:
        kinds = _FOLDER_EVENTS if event.is_directory else _FILE_EVENTS
        if event.event_type not in kinds:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = Path(os.fsdecode(raw))
                self.watcher.changed(path, event.is_directory)


def sync_batch(store, batch: Batch, *, cancel: CancelFn | None = None) -> list[IndexReport]:
    """Apply a batch of changes to the store; one report per watched source that changed."""
    reports = []
    for target, paths in batch.items():
        if cancel is not None and cancel():
            break
        if target.is_file:
            report = store.sync_changes(None, [target.path], target.collection, cancel=cancel)
        else:
            report = store.sync_changes(target.path, paths, target.collection, cancel=cancel)
        reports.append(report)
    return reports
