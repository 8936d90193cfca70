"""``ragdesk watch``: keep folders in sync with a collection, headless, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import click

from ragdesk.cli.errors import user_errors
from ragdesk.cli.root import cli, ctrl_c_sets, fail
from ragdesk.cli.store_cmds import no_ignore_option, open_store

TOTALS = ("added", "updated", "moved", "removed", "chunks_added")


class WatchLog:
    """Prints what each sync did, as text lines or JSON Lines, and keeps the totals."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.totals = dict.fromkeys(TOTALS, 0) | {"skipped": 0, "syncs": 0}

    def event(self, kind: str, **data) -> None:
        if self.as_json:
            click.echo(json.dumps({"event": kind, "time": time.time(), **data}, ensure_ascii=False))

    def report(self, report, kind: str = "sync") -> None:
        """One sync's changes, one line each."""
        self.totals["syncs"] += 1
        for key in TOTALS:
            self.totals[key] += getattr(report, key)
        self.totals["skipped"] += len(report.skipped)
        if self.as_json:
            self.event(kind, **report.to_json())
            return
        stamp = time.strftime("%H:%M:%S")
        if kind == "catch-up":  # a first run may add thousands of files: one line
            click.echo(
                f"[{stamp}] {report.collection}: caught up: {report.added} added, {report.updated} updated, "
                f"{report.moved} moved, {report.removed} removed, {len(report.skipped)} skipped"
            )
            return
        for change, path, old in report.changes:
            shown = f"{old} -> {path}" if old else path
            click.echo(f"[{stamp}] {report.collection}: {change} {shown}")
        for path, reason in report.skipped:
            click.echo(f"[{stamp}] {report.collection}: skipped {path}: {reason}")
        if report.ignored:
            click.echo(f"[{stamp}] {report.collection}: {len(report.ignored)} left out by rules")
        if report.cancelled:
            click.echo(f"[{stamp}] {report.collection}: stopped before the end; the next start catches up")

    def summary(self, folders: int, seconds: float) -> None:
        t = self.totals
        if self.as_json:
            self.event("stopped", folders=folders, seconds=round(seconds, 3), **t)
            return
        click.echo(
            f"Stopped watching {folders} folder(s) after {seconds:.0f} s: {t['syncs']} sync(s), "
            f"{t['added']} added, {t['updated']} updated, {t['moved']} moved, {t['removed']} removed, "
            f"{t['skipped']} skipped; {t['chunks_added']} chunks embedded."
        )


@cli.command()
@click.argument("folders", nargs=-1, type=click.Path())
@click.option(
    "--collection", "-c",
    help="Collection to keep in sync (default: every collection; with FOLDERs: the default collection, "
    "which they are added to).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line for each sync, and at the end.")
@no_ignore_option
@click.option("--quiet-period", type=click.FloatRange(0.05, 60), default=1.0, show_default=True,
              help="Seconds without changes before a burst is synced.")
@click.option("--max-wait", type=click.FloatRange(0.1, 600), default=5.0, show_default=True,
              help="Seconds at most between a change and its sync while changes keep coming.")
def watch(
    folders: tuple[str, ...],
    collection: str | None,
    as_json: bool,
    no_ignore: bool,
    quiet_period: float,
    max_wait: float,
) -> None:
    """Keep folders in sync with a collection until Ctrl-C.

    New, changed, renamed and deleted files are picked up within seconds; a
    renamed file keeps its vectors. With no FOLDERs, every folder the
    collection (or every collection) was built from is watched.
    """
    from ragdesk.ingest import IngestRules
    from ragdesk.store.watcher import FolderWatcher, sync_batch, targets_for

    started = time.monotonic()
    store = open_store()
    if no_ignore:
        store.settings.respect_ignore_files = False
    log = WatchLog(as_json)
    stop = threading.Event()
    with user_errors():
        if folders:
            missing = [f for f in folders if not Path(f).exists()]
            if missing:
                fail(f"no such file or folder: {missing[0]}")
            name = store.ensure_collection(collection).name
            sources = {name: [str(Path(f).expanduser().resolve()) for f in folders]}
        else:
            sources = store.sources()
            if collection:
                sources = {store.collection(collection).name: sources.get(collection, [])}
        targets = targets_for(sources)
        if not targets:
            fail("nothing to watch: name folders (ragdesk watch FOLDER) or add some with ragdesk index")
        watcher = FolderWatcher(
            targets, IngestRules.from_settings(store.settings), quiet_s=quiet_period, max_wait_s=max_wait
        )
        # Watch first, then catch up: a change made during the catch-up is not missed.
        watcher.start()
        with ctrl_c_sets(stop, "Stopping", sigterm=True):
            for report in store.catch_up(sources, cancel=stop.is_set):
                log.report(report, "catch-up")
            _announce(log, watcher)
            while not stop.is_set():
                batch = watcher.take(timeout=0.25)
                if batch:
                    for report in sync_batch(store, batch, cancel=stop.is_set):
                        log.report(report)
        watcher.stop()
    log.summary(len(watcher.folders), time.monotonic() - started)
    store.close()


def _announce(log: WatchLog, watcher) -> None:
    folders = [str(f) for f in watcher.folders]
    if log.as_json:
        log.event("watching", folders=folders, problems=[{"path": p, "reason": r} for p, r in watcher.problems])
        return
    for path, reason in watcher.problems:
        click.echo(f"Not watched: {path}: {reason}", err=True)
    click.echo(f"Watching {len(folders)} folder(s) (Ctrl-C to stop): {', '.join(folders)}")
