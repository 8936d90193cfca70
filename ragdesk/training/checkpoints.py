"""Training checkpoints: everything a resumed run needs, written so a crash never leaves half of one.

A checkpoint is a folder ``<run>/checkpoint/`` holding the trainable (LoRA)
weights, the optimizer and scheduler states, the RNG states and
``state.json`` (step, settings, data fingerprint, losses so far). A new one is
written beside the old and swapped in by renames.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

from ragdesk.training import ResumeError

CHECKPOINT = "checkpoint"
# Settings that change the result: a resumed run must use the same values.
RESUME_FIELDS = (
    "rank", "alpha", "dropout", "target_modules", "learning_rate", "weight_decay", "epochs",
    "max_steps", "min_steps", "batch_size", "grad_accum", "schedule", "warmup_steps", "seed", "max_grad_norm",
)


def _trainable_state(model) -> dict:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(run_dir: Path, model, optimizer, scheduler, state: dict) -> Path:
    """Write the checkpoint beside the old one, then swap (a crash keeps one whole)."""
    import torch

    final, tmp, old = run_dir / CHECKPOINT, run_dir / f"{CHECKPOINT}.tmp", run_dir / f"{CHECKPOINT}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(_trainable_state(model), tmp / "adapter.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _checkpoint_dir(run_dir: Path) -> Path | None:
    for name in (CHECKPOINT, f"{CHECKPOINT}.old"):
        if (run_dir / name / "state.json").exists():
            if name != CHECKPOINT:  # interrupted mid-swap: the old one is whole
                os.replace(run_dir / name, run_dir / CHECKPOINT)
            return run_dir / CHECKPOINT
    return None


def read_state(run_dir: Path) -> dict | None:
    folder = _checkpoint_dir(run_dir)
    if folder is None:
        return None
    try:
        return json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResumeError(f"the checkpoint in {run_dir} is unreadable: {exc}") from exc


def has_checkpoint(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds a checkpoint that ``resume`` can continue."""
    run_dir = Path(run_dir)
    return any((run_dir / n / "state.json").exists() for n in (CHECKPOINT, f"{CHECKPOINT}.old"))


def check_resumable(state: dict, config: dict, fingerprint: str) -> None:
    """Raise :class:`ResumeError` if the data or a result-changing setting differs."""
    if state.get("data_fingerprint") != fingerprint:
        raise ResumeError("the training data changed since the checkpoint; start a new run")
    saved = state.get("config", {})
    now = config
    changed = [
        f"{k} ({saved.get(k)} -> {now[k]})" for k in RESUME_FIELDS
        if json.loads(json.dumps(now[k])) != saved.get(k)
    ]
    if changed:
        raise ResumeError(f"cannot resume with different settings: {', '.join(changed)}")


def load_checkpoint(folder: Path, model, optimizer, scheduler, device) -> None:
    """Restore adapter weights, optimizer, scheduler and RNG state in place."""
    import torch

    weights = torch.load(folder / "adapter.pt", map_location=device, weights_only=True)
    missing = set(weights) ^ {n for n, p in model.named_parameters() if p.requires_grad}
    if missing:
        raise ResumeError("the checkpoint's adapter does not fit this model; start a new run")
    model.load_state_dict(weights, strict=False)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=device, weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    rng = torch.load(folder / "rng.pt", weights_only=True)
    torch.set_rng_state(rng["torch"])
    random.setstate((3, tuple(rng["python"]), None))
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
