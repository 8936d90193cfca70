"""``ragdesk models``: list, pull, add and remove GGUF models, LoRA adapters and rerankers."""

from __future__ import annotations

import sys

import click

from ragdesk.cli.root import cli, emit_json, fail


def _registry():
    from ragdesk import db, paths
    from ragdesk.llm.registry import ModelRegistry

    try:
        return ModelRegistry(db.connect(paths.db_path()))
    except db.DatabaseError as exc:
        fail(str(exc))


def _size(n: int | None, approx: bool = False) -> str:
    if not n:
        return "-"
    text = f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
    return "~" + text if approx else text


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Not a terminal (a pipe, a test): a wide virtual page, so names and paths are never cut.
    return Console(stderr=stderr, width=None if stream.isatty() else 200, highlight=False)


@cli.group()
def models() -> None:
    """Manage GGUF models, LoRA adapters and rerankers: list, pull, add, rm."""


def listing(registry, kind: str | None = None, total_memory: int | None = None) -> list[dict]:
    """Installed entries, then catalogue models not downloaded yet (``status`` "available").

    Catalogue rows carry the estimated ``memory_needed`` (bytes) and whether the model is
    ``recommended`` for a computer with ``total_memory`` bytes.
    """
    from ragdesk.llm import catalogue, machine_fit

    rows = []
    for entry in registry.list(kind):
        row = entry.to_json()
        row["status"] = "installed" if entry.exists or entry.builtin else "missing"
        rows.append(row)
    if kind in (None, "model"):
        recommended = machine_fit.recommend(total_memory)
        for item in catalogue.not_downloaded(row["source"] for row in rows):
            rows.append({
                "name": item.name, "kind": "model", "path": None, "base_model": None,
                "architecture": item.architecture, "size": item.approx_size, "size_approx": True, "sha256": None,
                "source": item.source, "license": item.license, "builtin": False, "default": False,
                "exists": False, "status": "available", "repo_id": item.repo_id, "filename": item.filename,
                "context_length": item.context_length, "params": item.params, "description": item.description,
                "memory_needed": machine_fit.memory_needed(item), "recommended": item in recommended,
            })
    if kind in (None, "reranker"):
        from ragdesk.llm.reranker_pull import RERANKERS

        have = {row["source"] for row in rows}
        for offer in (o for o in RERANKERS if o.source not in have):
            rows.append({
                "name": offer.name, "kind": "reranker", "path": None, "base_model": None, "architecture": None,
                "size": offer.approx_size, "size_approx": True, "sha256": None, "source": offer.source,
                "license": offer.license, "builtin": False, "default": False, "exists": False,
                "status": "available", "repo_id": offer.repo_id, "filename": None, "context_length": None,
                "params": None, "description": offer.description, "memory_needed": None, "recommended": False,
            })
    return rows


@models.command("list")
@click.option("--kind", type=click.Choice(["model", "adapter", "reranker"]), help="Only models, adapters or rerankers.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(kind: str | None, as_json: bool) -> None:
    """Installed models, adapters and rerankers, and catalogue entries available to pull."""
    from rich.table import Table

    from ragdesk.llm import machine_fit

    total_memory = machine_fit.machine_memory()
    rows = listing(_registry(), kind, total_memory)
    if as_json:
        emit_json(rows)
        return
    console = _console()
    installed = [r for r in rows if r["status"] != "available"]
    table = Table(title="Installed", title_justify="left")
    for column in ("Name", "Kind", "Size", "Architecture", "Licence", "Source", "Path"):
        table.add_column(column, overflow="fold", no_wrap=column == "Name")
    for r in installed:
        flags = " (default)" if r["default"] else ""
        flags += " [built-in]" if r["builtin"] else ""
        flags += " [file missing]" if r["status"] == "missing" else ""
        table.add_row(r["name"] + flags, r["kind"], _size(r["size"]), r["architecture"] or "-",
                      r["license"] or "-", r["source"], r["path"])
    console.print(table if installed else "No models installed.")
    available = sorted((r for r in rows if r["status"] == "available"), key=lambda r: not r["recommended"])
    if available:
        more = Table(title="Available (ragdesk models pull NAME)", title_justify="left")
        for column in ("Name", "Params", "Size", "Memory", "Context", "Licence", "Description"):
            more.add_column(column, overflow="fold", no_wrap=column == "Name")
        for r in available:
            context = f"{r['context_length']:,}" if r["context_length"] else "-"
            params = r["params"] or ("reranker" if r["kind"] == "reranker" else "-")
            more.add_row(("★ " if r["recommended"] else "") + r["name"], params, _size(r["size"], approx=True),
                         _size(r["memory_needed"], approx=True), context, r["license"], r["description"])
        console.print(more)
        if any(r["recommended"] for r in available):
            console.print(f"★ Recommended for this computer ({machine_fit.describe_memory(total_memory)}); "
                          f"Memory is the estimated need at a {machine_fit.DEFAULT_CONTEXT}-token context.")


@models.command()
@click.argument("name_or_repo")
@click.argument("filename", required=False)
@click.option("--revision", help="Branch, tag or commit on the hub (default: main).")
@click.option("--name", help="Name to register the model under.")
@click.option("--kind", type=click.Choice(["model", "reranker"]),
              help="What to pull (default: a reranker for a reranker's catalogue name, else a GGUF model). "
              "A reranker is a whole hub repository: give REPO_ID alone.")
@click.option("--json", "as_json", is_flag=True, help="Print the registered entry as JSON.")
def pull(name_or_repo: str, filename: str | None, revision: str | None, name: str | None, kind: str | None,
         as_json: bool) -> None:
    """Download a catalogue model by NAME, or REPO_ID FILENAME from the Hugging Face hub.

    Rerankers (cross-encoders) by catalogue name, or ``--kind reranker REPO_ID``.
    Interrupted downloads resume where they stopped when pulled again.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from ragdesk.llm.download import pull_model
    from ragdesk.llm.registry import ModelError
    from ragdesk.llm.reranker_pull import find_offer, pull_reranker

    registry = _registry()
    label = filename or name_or_repo
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    bar = Progress(*columns, console=_console(stderr=True))
    task = bar.add_task(label, total=None)

    def progress(done: int, total: int) -> None:
        if not bar.live.is_started:  # only once bytes flow, so early errors print alone
            bar.start()
        bar.update(task, completed=done, total=total or None)

    try:
        try:
            if kind == "reranker" or (kind is None and filename is None and find_offer(name_or_repo)):
                if filename is not None:
                    fail("a reranker is a whole repository: give REPO_ID alone, without FILENAME.")
                entry = pull_reranker(name_or_repo, revision=revision, name=name, registry=registry,
                                      progress=progress)
            else:
                entry = pull_model(name_or_repo, filename, revision=revision, name=name, registry=registry,
                                   progress=progress)
        finally:
            if bar.live.is_started:
                bar.stop()
    except KeyboardInterrupt:
        fail("download interrupted; run the same command again to resume it.", 130)
    except ModelError as exc:
        fail(str(exc))
    if as_json:
        emit_json(entry.to_json())
        return
    checked = "checked" if entry.kind == "reranker" else "sha256 verified"
    click.echo(f"Pulled '{entry.name}' ({_size(entry.size)}, {checked}) to {entry.path}")
    if entry.license:
        click.echo(f"Licence: {entry.license}")


@models.command()
@click.argument("path", type=click.Path(dir_okay=True))
@click.option("--name", help="Name to register it under (default: from the file name).")
@click.option("--base", "base_model", help="For a LoRA adapter: the model it was made for.")
@click.option("--license", "licence", help="Licence to record (default: from the GGUF metadata).")
@click.option("--copy", is_flag=True, help="Copy the file into the data folder instead of referring to it.")
@click.option("--json", "as_json", is_flag=True, help="Print the registered entry as JSON.")
def add(path: str, name: str | None, base_model: str | None, licence: str | None, copy: bool, as_json: bool) -> None:
    """Register a local GGUF model or LoRA adapter file, or a reranker folder (checked first)."""
    from pathlib import Path

    from ragdesk.llm.registry import ModelError

    try:
        if Path(path).expanduser().is_dir():
            if base_model or copy:
                fail("--base and --copy are for GGUF files; a reranker folder is registered where it is.")
            entry = _registry().add_reranker(path, name=name, license=licence)
        else:
            entry = _registry().add(path, name=name, base_model=base_model, license=licence, copy=copy)
    except ModelError as exc:
        fail(str(exc))
    if as_json:
        emit_json(entry.to_json())
        return
    what = {"adapter": "LoRA adapter", "reranker": "reranker"}.get(entry.kind, "model")
    base = f" for '{entry.base_model}'" if entry.base_model else ""
    click.echo(f"Added {what} '{entry.name}'{base} ({entry.architecture or 'unknown architecture'}, "
               f"{_size(entry.size)}): {entry.path}")


@models.command("rm")
@click.argument("name")
@click.option("--keep-file", is_flag=True, help="Keep the file even if it is in the data folder.")
def rm(name: str, keep_file: bool) -> None:
    """Remove a model or adapter (its file is deleted only if it is in the data folder)."""
    from ragdesk.llm.registry import ModelError, is_managed

    registry = _registry()
    try:
        entry = registry.get(name)
        registry.remove(name, delete_file=not keep_file)
    except ModelError as exc:
        fail(str(exc))
    if not keep_file and is_managed(entry.path):
        click.echo(f"Removed '{name}' and deleted {entry.path}")
    else:
        click.echo(f"Removed '{name}'; the file {entry.path} was left in place.")
