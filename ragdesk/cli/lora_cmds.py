"""LoRA adapter commands: ``ragdesk lora merge`` and ``ragdesk lora import``.

Other modules add their commands to the ``lora`` group defined here
(``from ragdesk.cli.lora_cmds import lora``).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ragdesk.cli.root import cli, emit_json, fail


@cli.group()
def lora() -> None:
    """Make, convert and merge LoRA adapters."""


@lora.command("merge")
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("adapter", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="The merged model file to write.")
@click.option("--scale", default=1.0, show_default=True, type=float, help="Strength of the adapter.")
@click.option("--quant", default=None, metavar="TYPE",
              help="Quantize the merged model, e.g. Q4_K_M, Q5_K_M, Q8_0 (default: keep the base's types).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def merge_cmd(base: Path, adapter: Path, output: Path, scale: float, quant: str | None, as_json: bool) -> None:
    """Write a standalone model: BASE.gguf with ADAPTER.gguf merged into its weights."""
    from ragdesk.llm.lora_merge import LoraMergeError, merge_lora

    start = time.perf_counter()
    try:
        out = merge_lora(base, adapter, output, scale=scale, quant=quant, progress=_progress(as_json))
    except LoraMergeError as exc:
        fail(str(exc))
    result = {"output": str(out), "bytes": out.stat().st_size, "scale": scale, "quant": quant,
              "seconds": round(time.perf_counter() - start, 3)}
    if as_json:
        emit_json(result)
    else:
        click.echo(f"Wrote {out} ({out.stat().st_size / 2**20:.1f} MiB) in {result['seconds']:.1f} s.")


@lora.command("import")
@click.argument("peft_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="The llama.cpp adapter file (.gguf) to write.")
@click.option("--base", "base", required=True, type=click.Path(path_type=Path),
              help="The base model: its Hugging Face config folder, or its GGUF file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_cmd(peft_dir: Path, output: Path, base: Path, as_json: bool) -> None:
    """Convert a PEFT LoRA adapter folder into a llama.cpp adapter GGUF (offline)."""
    from ragdesk.llm.lora_import import LoraImportError, import_peft

    if not base.exists():
        fail(f"The base model {base} does not exist.")
    is_gguf = base.is_file() and base.suffix.lower() == ".gguf"
    try:
        out = import_peft(peft_dir, output, base_config_dir=None if is_gguf else base,
                          base_gguf=base if is_gguf else None)
    except LoraImportError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"output": str(out), "bytes": out.stat().st_size})
    else:
        click.echo(f"Wrote {out}.")


@lora.command("list")
@click.option("--model", "-m", help="Only adapters that fit this model.")
@click.option("--json", "as_json", is_flag=True, help="Print the adapters as JSON.")
def list_cmd(model: str | None, as_json: bool) -> None:
    """List LoRA adapters with the model each one belongs to."""
    from ragdesk import db, paths
    from ragdesk.llm.registry import ModelError, ModelRegistry

    registry = ModelRegistry(db.connect(paths.db_path()))
    try:
        adapters = registry.adapters_for(model) if model else registry.list(kind="adapter")
    except ModelError as exc:
        fail(str(exc))
    if as_json:
        emit_json([a.to_json() for a in adapters])
        return
    if not adapters:
        click.echo("No adapters yet. Train one with `ragdesk lora train` or add one with `ragdesk models add`.")
    for a in adapters:
        click.echo(f"{a.name}  (for {a.base_model or a.architecture or 'any model'}, "
                   f"{a.size / 2**20:.1f} MiB)  {a.path}")


def _progress(quiet: bool):
    """A callback printing merge steps on stderr (nothing with --json)."""
    if quiet:
        return None

    last = [-1]

    def report(fraction: float, message: str) -> None:
        step = int(fraction * 10)  # one line per tenth, not one per tensor
        if step != last[0] or not message.startswith("merging"):
            last[0] = step
            click.echo(f"[{fraction:4.0%}] {message}", err=True)

    return report
