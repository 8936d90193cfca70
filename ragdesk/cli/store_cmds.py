"""Knowledge-store commands: index, search, forget, collections, stats."""

from __future__ import annotations

from pathlib import Path

import click

from ragdesk.cli.errors import user_errors
from ragdesk.cli.root import cli, emit_json


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def open_store():
    from ragdesk.store import KnowledgeStore

    with user_errors():
        return KnowledgeStore()


class _ProgressBar:
    """A rich progress display on stderr: files, chunks, rate and ETA."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            TextColumn("{task.fields[chunks]} chunks"),
            TextColumn("{task.fields[rate]:.1f} chunks/s"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=quiet,
        )
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("scanning", total=None, files="", chunks=0, rate=0.0)
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def update(self, p) -> None:
        self.progress.update(
            self.task,
            description=f"{p.phase} ({p.detail})" if p.detail else p.phase,
            total=p.bytes_total or None,
            completed=p.bytes_done,
            files=f"{p.files_done}/{p.files_total} files",
            chunks=p.chunks_done,
            rate=p.rate,
        )


no_ignore_option = click.option(
    "--no-ignore", is_flag=True,
    help="Do not read .gitignore, .git/info/exclude or .ragdeskignore (the skip list still applies).",
)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--collection", "-c", help="Collection to add to (created if new; default: the default collection).")
@click.option(
    "--embedding-model",
    help="Sentence-transformers model (hub id or folder) for a NEW collection; "
    "an existing collection keeps the model it was built with.",
)
@click.option(
    "--sentence-windows/--no-sentence-windows", default=None,
    help="Also embed every two consecutive sentences (finer vector search; indexing takes 2.2-2.5 times as long); "
    "kept as the collection's setting. Turning it on fills in the windows of chunks already indexed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@no_ignore_option
@click.option("--verbose", "-v", is_flag=True,
              help="List every file and folder left out by a rule, and the page chrome left out of each page.")
def index(
    paths: tuple[str, ...],
    collection: str | None,
    embedding_model: str | None,
    sentence_windows: bool | None,
    as_json: bool,
    quiet: bool,
    no_ignore: bool,
    verbose: bool,
) -> None:
    """Index files and folders (only new and changed files are processed)."""
    store = open_store()
    if no_ignore:
        store.settings.respect_ignore_files = False  # this run only; the saved settings are untouched
    with user_errors(), _ProgressBar(quiet or as_json) as bar:
        if embedding_model:
            store.ensure_collection(collection, embedding_model=embedding_model)
        if sentence_windows is not None:
            store.set_sentence_windows(collection, sentence_windows)
        report = store.index([Path(p) for p in paths], collection, progress=bar.update)
    if as_json:
        emit_json(report.to_json())
        return
    click.echo(
        f"{report.collection}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged + report.touched} unchanged, {report.removed} removed"
        + (f", {report.moved} moved" if report.moved else "")
        + f"; {report.chunks_added} chunks embedded in {report.seconds:.1f} s"
        + (f"; {report.unsupported} files of other types ignored" if report.unsupported else "")
        + (f"; sentence windows added to {report.windows_filled} earlier chunks" if report.windows_filled else "")
    )
    if report.skipped:
        click.echo(f"Skipped {len(report.skipped)} file(s):")
        for path, reason in report.skipped:
            click.echo(f"  {path}: {reason}")
    if report.warnings:
        click.echo(f"Indexed in part ({len(report.warnings)}):")
        for path, message in report.warnings:
            click.echo(f"  {path}: {message}")
    echo_ignored(report, verbose)
    echo_dropped(report, verbose)


def echo_dropped(report, verbose: bool) -> None:
    """Page chrome left out of web pages: a total, and with ``verbose`` what, per file."""
    if not report.dropped:
        return
    chars = sum(sum(kinds.values()) for _path, kinds in report.dropped)
    hint = "" if verbose else " (--verbose lists them)"
    click.echo(f"Page chrome left out of {len(report.dropped)} page(s), {chars} characters{hint}")
    if verbose:
        for path, kinds in report.dropped:
            what = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
            click.echo(f"  {path}: {what}")


def echo_ignored(report, verbose: bool) -> None:
    """What rules left out: a count per rule, and with ``verbose`` every path."""
    if not report.ignored:
        return
    folders = sum(1 for *_, folder in report.ignored if folder)
    hint = "" if verbose else " (--verbose lists them)"
    click.echo(f"Left out by rules: {count_text(folders, len(report.ignored) - folders)}{hint}:")
    by_rule = report.ignored_by_rule()
    for rule, n in by_rule.items():
        click.echo(f"  {rule}: {count_text(n['folders'], n['files'])}")
        if verbose:
            for path, _rule, folder in (i for i in report.ignored if i[1] == rule):
                click.echo(f"    {path}{'/' if folder else ''}")


def count_text(folders: int, files: int) -> str:
    """``"2 folders, 1 file"``, leaving out a zero."""
    parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((folders, "folder"), (files, "file")) if n]
    return ", ".join(parts) or "nothing"


@cli.command()
@click.argument("query")
@click.option("--collection", "-c", help="Collection to search (default: the default collection).")
@click.option("--k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Number of chunks.")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "bm25"]), default="hybrid", show_default=True)
@click.option("--rerank/--no-rerank", default=None,
              help="Reorder the best candidates with the chosen reranker (default: for hybrid, when one is chosen).")
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON.")
def search(query: str, collection: str | None, k: int, mode: str, rerank: bool | None, as_json: bool) -> None:
    """Find the chunks most relevant to QUERY."""
    store = open_store()
    with user_errors():
        hits = store.search(query, collection, k=k, mode=mode, rerank=rerank)
    if as_json:
        emit_json([h.to_json() for h in hits])
        return
    if not hits:
        click.echo("No matching chunks.")
    for n, hit in enumerate(hits, start=1):
        where = hit.path + (f" p.{hit.page}" if hit.page else "") + (f" § {hit.heading}" if hit.heading else "")
        ocr = f"  (read by OCR, {hit.ocr_confidence:.0%} confidence)" if hit.read_by_ocr else ""
        click.echo(click.style(f"[{n}] {hit.score:.4f}  {where}  ({hit.start}-{hit.end}){ocr}", bold=True))
        if hit.title:
            click.echo(f"    {hit.title}")
        text = " ".join(hit.text.split())
        click.echo("    " + (text[:300] + "…" if len(text) > 300 else text))
        if hit.copies:
            click.echo("    (" + hit.copies_line() + ")")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--collection", "-c", help="Only from this collection (default: from every collection).")
def forget(paths: tuple[str, ...], collection: str | None) -> None:
    """Remove files or folders from the index completely."""
    store = open_store()
    with user_errors():
        removed = store.forget(paths, collection)
    click.echo(f"Removed {removed} document(s).")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def collections(as_json: bool) -> None:
    """List collections with their document and chunk counts."""
    store = open_store()
    with user_errors():
        infos = store.collections()
    if as_json:
        emit_json([i.to_json() for i in infos])
        return
    if not infos:
        click.echo("No collections yet. Add documents with: ragdesk index FOLDER")
    for i in infos:
        c = i.collection
        click.echo(
            f"{c.name}: {i.documents} documents, {i.chunks} chunks, {c.embedding_model} ({c.dimension}-d), "
            f"{human_bytes(i.size_bytes)}" + (", sentence windows" if c.sentence_windows else "")
        )


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool) -> None:
    """Totals for the whole data folder."""
    store = open_store()
    with user_errors():
        data = store.stats()
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        shown = human_bytes(value) if key.endswith("_bytes") else value
        click.echo(f"{key.replace('_', ' ')}: {shown}")
