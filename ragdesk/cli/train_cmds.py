"""``ragdesk lora train``: teach a model a collection with a LoRA adapter."""

from __future__ import annotations

import sys
import threading

import click

from ragdesk.cli.errors import user_errors
from ragdesk.cli.lora_cmds import lora
from ragdesk.cli.root import ctrl_c_sets, emit_json, fail

EXIT_CANCELLED = 130  # the shell's code for "stopped by Ctrl-C"


def _cancel_on_ctrl_c(event: threading.Event):
    """First Ctrl-C asks the trainer to checkpoint and stop; a second one aborts."""
    return ctrl_c_sets(event, "Stopping after this step and saving a checkpoint")


class _TrainingBar:
    """Phase, step bar, loss, tokens/s and ETA on stderr."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} tok/s"),
            TextColumn("ETA {task.fields[eta]}"),
            console=Console(stderr=True),
            transient=True,
            disable=quiet,
        )
        self.console = self.progress.console
        self.quiet = quiet
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("starting", total=None, loss="-", rate="-", eta="-")
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def update(self, p) -> None:
        if p.phase in ("load", "data", "convert"):
            if not self.quiet:
                self.console.print(f"[dim]{p.message}[/dim]")
            self.progress.update(self.task, description=p.phase)
            return
        self.progress.update(
            self.task,
            description=p.phase,
            total=p.total_steps or None,
            completed=p.step,
            loss=f"{p.loss:.4f}" if p.loss is not None else "-",
            rate=f"{p.tokens_per_s:.0f}",
            eta=_duration(p.eta_s),
        )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _read_qa_file(path: str) -> list[tuple[str, str]]:
    """Pairs from a JSON list or JSON-lines file of ``{"question", "answer"}`` objects."""
    import json

    from ragdesk.training.dataset import as_pair

    text = open(path, encoding="utf-8").read()
    try:
        items = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()
        ]
        return [as_pair(item) for item in items]
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{path} is not a list of {{\"question\", \"answer\"}} objects ({exc})")


@lora.command("train")
@click.option("--collection", "-c", help="Collection to learn (default: the default collection).")
@click.option("--base", help="Base model: a GGUF file or model name (default: the model in use), "
              "a Hugging Face folder or a hub id.")
@click.option("--model", "-m", "target", help="The GGUF model the adapter is for, when --base is not a GGUF "
              "(default: the model in use).")
@click.option("-o", "--output", "name", required=True, help="Name of the new adapter.")
@click.option("--method", help="continued (the texts), qa (generated question/answer pairs) or both "
              "[default: continued].")
@click.option("--rank", type=click.IntRange(1, 1024), help="LoRA rank [default: 8].")
@click.option("--alpha", type=float, help="LoRA alpha [default: 16].")
@click.option("--epochs", type=click.IntRange(1, 10_000),
              help="Passes over the data [default: 3, and at least 40 steps].")
@click.option("--max-steps", type=click.IntRange(1), help="Stop after this many steps (overrides --epochs).")
@click.option("--lr", "learning_rate", type=float, help="Learning rate [default: 1e-3].")
@click.option("--batch-size", type=click.IntRange(1, 4096), help="Examples per step [default: 4].")
@click.option("--grad-accum", type=click.IntRange(1, 4096), help="Batches per optimizer step [default: 1].")
@click.option("--block-size", type=click.IntRange(8, 65536), help="Tokens per text block [default: 256].")
@click.option("--schedule", type=click.Choice(["cosine", "linear", "constant"]), help="[default: cosine]")
@click.option("--qa-pairs", "n_qa", type=click.IntRange(1, 100_000), help="Pairs to generate [default: 64].")
@click.option("--qa-file", type=click.Path(exists=True, dir_okay=False),
              help="Use these question/answer pairs (JSON or JSON lines) instead of generating them.")
@click.option("--threads", type=click.IntRange(1, 1024), help="CPU threads (default: the settings').")
@click.option("--resume", is_flag=True, help="Continue the run called NAME from its last checkpoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train_command(collection, base, target, name, method, rank, alpha, epochs, max_steps, learning_rate,
                  batch_size, grad_accum, block_size, schedule, n_qa, qa_file, threads, resume, as_json, quiet):
    """Train a LoRA adapter on a collection, convert it for llama.cpp and register it.

    Ctrl-C stops after the current step and saves a checkpoint; run the same
    command with --resume to continue.
    """
    from ragdesk.training.job import TrainRequest, run_job

    given = dict(rank=rank, alpha=alpha, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
                 batch_size=batch_size, grad_accum=grad_accum, schedule=schedule, threads=threads)
    if epochs is not None:
        given["min_steps"] = 1  # asked for a number of epochs: exactly that many
    request = TrainRequest(
        name=name, collection=collection, base=base, model=target, method=method,
        options={k: v for k, v in given.items() if v is not None}, block_size=block_size,
        n_qa=n_qa, qa_pairs=_read_qa_file(qa_file) if qa_file else None, resume=resume,
    )
    cancel = threading.Event()
    with user_errors(), _cancel_on_ctrl_c(cancel), _TrainingBar(quiet or as_json) as bar:
        result = run_job(request, progress=bar.update, cancel=cancel)
    if as_json:
        emit_json(result.to_json())
    else:
        _print_summary(result)
    if result.status == "cancelled":
        sys.exit(EXIT_CANCELLED)


def _print_summary(result) -> None:
    t = result.training
    if result.status == "cancelled" and not t.total_steps:
        click.echo("Cancelled before training started; nothing was saved.")
        return
    if result.status == "cancelled":
        click.echo(f"Cancelled at step {t.step}/{t.total_steps}; checkpoint saved. "
                   f"Continue with: ragdesk lora train -o {result.name} --resume")
        return

    def change(before, after):
        return f"{before:.3f} -> {after:.3f}" if before is not None and after is not None else "-"

    click.echo(f"Trained {result.name!r} on {result.base} ({result.method}): {t.step} steps, "
               f"{t.tokens_trained} tokens at {t.tokens_per_s:.0f} tokens/s, peak memory {t.peak_rss_mb:.0f} MB")
    click.echo(f"  training-text loss {change(t.train_loss_before, t.train_loss_after)}")
    if t.heldout_loss_before is not None:
        click.echo(f"  held-out QA loss {change(t.heldout_loss_before, t.heldout_loss_after)}")
    click.echo(f"  adapter {result.adapter_path} (for {result.base_model})")
