"""The LoRA training loop: progress, cancel, checkpoints and resume.

A plain PyTorch loop over a peft model rather than ``transformers.Trainer``:
it is short, and it lets a cancelled run stop cleanly between two optimizer
steps, save everything a resumed run needs (adapter weights, optimizer,
scheduler, RNG, step) and continue to exactly the same final step.

The data order is a pure function of the seed and the step (each epoch is a
seeded permutation), so resuming needs no record of which batches were seen.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ragdesk.training import ResumeError, TrainingError
from ragdesk.training.base_model import ensure_free_space
from ragdesk.training.checkpoints import (
    CHECKPOINT,
    check_resumable,
    load_checkpoint,
    read_state,
    save_checkpoint,
)
from ragdesk.training.dataset import IGNORE, Example, TrainingData, collate

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SCHEDULES = ("cosine", "linear", "constant")


@dataclass
class TrainConfig:
    """Hyper-parameters of a LoRA run; the defaults suit small models on a CPU."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    learning_rate: float = 1e-3  # LoRA on small models learns facts fast at this rate
    weight_decay: float = 0.0
    epochs: int = 3
    max_steps: int | None = None  # when set, overrides epochs and min_steps
    min_steps: int = 40  # a small collection is repeated until the adapter has had this many steps
    batch_size: int = 4
    grad_accum: int = 1
    schedule: str = "cosine"
    warmup_steps: int | None = None  # None: 5% of the steps
    seed: int = 0
    max_grad_norm: float = 1.0
    checkpoint_every: int = 50  # steps; a cancel always checkpoints
    device: str = "auto"  # auto | cpu | cuda | mps
    dtype: str = "auto"  # auto (bf16 on a GPU that has it, else fp32) | float32 | bfloat16
    threads: int | None = None  # torch CPU threads
    eval_examples: int = 16  # training examples scored before/after

    def __post_init__(self):
        self.target_modules = tuple(self.target_modules)
        if self.schedule not in SCHEDULES:
            raise TrainingError(f"unknown schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)}")
        for name in ("rank", "epochs", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name.replace('_', ' ')} must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise TrainingError("max steps must be at least 1")


@dataclass
class Progress:
    """What a progress bar shows; sent after every optimizer step."""

    step: int
    total_steps: int
    loss: float | None
    tokens_per_s: float
    eta_s: float | None
    elapsed_s: float
    phase: str = "train"  # load | data | eval | train | checkpoint | convert
    message: str = ""


@dataclass
class TrainResult:
    """How a run ended; ``status`` is ``completed`` or ``cancelled``."""

    status: str
    step: int
    total_steps: int
    final_loss: float | None
    losses: list[float]
    tokens_trained: int
    train_seconds: float
    tokens_per_s: float
    train_loss_before: float | None = None
    train_loss_after: float | None = None
    heldout_loss_before: float | None = None
    heldout_loss_after: float | None = None
    adapter_dir: str | None = None
    checkpoint_dir: str | None = None
    device: str = "cpu"
    dtype: str = "float32"
    peak_rss_mb: float = 0.0
    peak_gpu_mb: float | None = None
    model: Any = field(default=None, repr=False)

    def to_json(self) -> dict:
        # Not asdict(): it would deep-copy the model.
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}


def total_steps_for(n_examples: int, config: TrainConfig) -> int:
    """Optimizer steps of a run: ``max_steps``, else whole epochs (at least ``min_steps``)."""
    if config.max_steps:
        return config.max_steps
    per_epoch = math.ceil(math.ceil(n_examples / config.batch_size) / config.grad_accum)
    return max(per_epoch * config.epochs, config.min_steps)


def pick_device(config: TrainConfig) -> tuple[str, str]:
    import torch

    device = config.device
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    dtype = config.dtype
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    return device, dtype


def train(
    model,
    tokenizer,
    data: TrainingData,
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    progress: Callable[[Progress], None] | None = None,
    cancel: Any = None,
    resume: bool = False,
) -> TrainResult:
    """Train a LoRA adapter on ``model`` (changed in place) and save it.

    ``cancel`` is a ``threading.Event`` or a no-argument callable, checked
    between steps; when it fires, a checkpoint is saved and the result's
    status is ``cancelled``. ``resume=True`` continues from the checkpoint in
    ``run_dir``. On completion the PEFT adapter is in ``run_dir/adapter``.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device, dtype = pick_device(config)
    state = read_state(run_dir) if resume else None
    if resume and state is None:
        raise ResumeError(f"there is no checkpoint to resume in {run_dir}")
    if not data.train:
        raise TrainingError("there are no training examples")
    fingerprint = data.fingerprint()
    if state is not None:
        check_resumable(state, asdict(config), fingerprint)

    torch.manual_seed(config.seed)
    targets = _present_targets(model, config.target_modules)
    lora = LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=targets, bias="none", task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        # peft probes a transformers attribute that v5 deprecated; not ours to fix.
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(model.to(device=device, dtype=getattr(torch, dtype)), lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    total = state["total_steps"] if state else total_steps_for(len(data.train), config)
    scheduler = _scheduler(optimizer, config, total)
    pad_id = _pad_id(tokenizer)
    ckpt_bytes = sum(p.numel() * p.element_size() for p in trainable) * 3 + (1 << 20)
    # Fail now rather than after an hour: room for a checkpoint and the adapter.
    ensure_free_space(run_dir, 3 * ckpt_bytes + (8 << 20), "training checkpoints")

    step, losses, tokens, seconds = 0, [], 0, 0.0
    before: dict[str, float | None] = {"train": None, "heldout": None}
    eval_sample = data.train[: config.eval_examples]
    if state is not None:
        step, losses = state["step"], state["losses"]
        tokens, seconds = state["tokens_trained"], state["train_seconds"]
        before = {"train": state["train_loss_before"], "heldout": state["heldout_loss_before"]}
        load_checkpoint(run_dir / CHECKPOINT, model, optimizer, scheduler, device)
    else:
        _emit(progress, Progress(0, total, None, 0.0, None, 0.0, "eval"))
        before["train"] = evaluate_loss(model, eval_sample, pad_id, config.batch_size)
        before["heldout"] = evaluate_loss(model, data.heldout, pad_id, config.batch_size)

    def save(at_step: int) -> Path:
        ensure_free_space(run_dir, ckpt_bytes, "a training checkpoint")
        return save_checkpoint(run_dir, model, optimizer, scheduler, {
            "format": 1, "step": at_step, "total_steps": total, "config": asdict(config),
            "data_fingerprint": fingerprint, "losses": losses, "tokens_trained": tokens,
            "train_seconds": seconds, "train_loss_before": before["train"],
            "heldout_loss_before": before["heldout"],
        })

    model.train()
    session_tokens, session_start, status = 0, time.perf_counter(), "completed"
    while step < total:
        if is_cancelled(cancel):
            status = "cancelled"
            break
        t0 = time.perf_counter()
        loss, n_tokens = _train_step(model, data.train, step, config, pad_id, device)
        torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(loss)
        tokens += n_tokens
        session_tokens += n_tokens
        seconds += time.perf_counter() - t0
        elapsed = time.perf_counter() - session_start
        rate = session_tokens / elapsed if elapsed > 0 else 0.0
        eta = elapsed / step_count_since(state, step) * (total - step) if step < total else 0.0
        _emit(progress, Progress(step, total, loss, rate, eta, elapsed))
        if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
            _emit(progress, Progress(step, total, loss, rate, eta, elapsed, "checkpoint"))
            save(step)

    ckpt = save(step)
    result = TrainResult(
        status=status, step=step, total_steps=total,
        final_loss=_mean(losses[-max(1, min(5, len(losses))):]) if losses else None,
        losses=list(losses), tokens_trained=tokens, train_seconds=round(seconds, 3),
        tokens_per_s=round(tokens / seconds, 1) if seconds else 0.0,
        train_loss_before=before["train"], heldout_loss_before=before["heldout"],
        checkpoint_dir=str(ckpt), device=device, dtype=dtype, model=model,
    )
    if status == "completed":
        _emit(progress, Progress(step, total, result.final_loss, result.tokens_per_s, 0.0, seconds, "eval"))
        result.train_loss_after = evaluate_loss(model, eval_sample, pad_id, config.batch_size)
        result.heldout_loss_after = evaluate_loss(model, data.heldout, pad_id, config.batch_size)
        adapter_dir = run_dir / "adapter"
        ensure_free_space(run_dir, ckpt_bytes, "the trained adapter")
        model.save_pretrained(str(adapter_dir))
        result.adapter_dir = str(adapter_dir)
    result.peak_rss_mb, result.peak_gpu_mb = peak_memory_mb(device)
    return result


def step_count_since(state: dict | None, step: int) -> int:
    """Steps done in this session (the ETA uses this session's pace only)."""
    return max(1, step - (state["step"] if state else 0))


def _train_step(model, examples: Sequence[Example], step: int, config: TrainConfig, pad_id: int, device):
    """One optimizer step's forward/backward passes; returns (loss, tokens)."""
    batches = [
        collate(micro, pad_id)
        for micro in (
            _micro_batch(examples, step * config.grad_accum + m, config)
            for m in range(config.grad_accum)
        )
    ]
    scored = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches)
    total_loss, n_tokens = 0.0, 0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        loss_sum, _ = _loss_sum(model, batch)
        # Token-weighted over the whole step, whatever the padding per micro-batch.
        (loss_sum / max(1, scored)).backward()
        total_loss += loss_sum.item()
        n_tokens += int(batch["attention_mask"].sum())
    return total_loss / max(1, scored), n_tokens


def _micro_batch(examples: Sequence[Example], index: int, config: TrainConfig) -> list[Example]:
    """The ``index``-th micro-batch of the endless, epoch-by-epoch shuffled stream."""
    import torch

    per_epoch = math.ceil(len(examples) / config.batch_size)
    epoch, position = divmod(index, per_epoch)
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(config.seed * 1000 + epoch))
    picked = order[position * config.batch_size : (position + 1) * config.batch_size]
    return [examples[i] for i in picked.tolist()]


def _loss_sum(model, batch) -> tuple[Any, int]:
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    logits = logits[:, :-1].float()
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE, reduction="sum")
    return loss, int((labels != IGNORE).sum())


def evaluate_loss(model, examples: Sequence[Example], pad_id: int, batch_size: int = 8) -> float | None:
    """Mean loss per scored token over ``examples`` (None when there are none)."""
    import torch

    if not examples:
        return None
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            batch = {k: v.to(device) for k, v in collate(examples[start : start + batch_size], pad_id).items()}
            loss_sum, n = _loss_sum(model, batch)
            total += float(loss_sum)
            count += n
    model.train(was_training)
    return round(total / count, 5) if count else None


def _scheduler(optimizer, config: TrainConfig, total: int):
    import torch

    warmup = config.warmup_steps if config.warmup_steps is not None else int(0.05 * total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if config.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        if config.schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _present_targets(model, wanted: Sequence[str]) -> list[str]:
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    present = [t for t in wanted if t in names]
    if not present:
        raise TrainingError(
            f"none of the LoRA target modules ({', '.join(wanted)}) exist in this model"
        )
    return present


def _pad_id(tokenizer) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def is_cancelled(cancel) -> bool:
    """Whether ``cancel`` (an Event, a callable or None) asks to stop."""
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return cancel.is_set()
    return bool(cancel())


def _emit(progress, report: Progress) -> None:
    if progress is not None:
        progress(report)


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 5)


def peak_memory_mb(device: str = "cpu") -> tuple[float, float | None]:
    """Peak resident memory of this process, and peak GPU memory when on CUDA."""
    rss_mb = _peak_rss_bytes() / (1 << 20)
    gpu = None
    if device == "cuda":
        import torch

        gpu = round(torch.cuda.max_memory_allocated() / (1 << 20), 1)
    return round(rss_mb, 1), gpu


def _peak_rss_bytes() -> int:
    """Peak resident set size; 0 where the platform will not say."""
    try:
        import resource  # POSIX only: imported here so the module loads on Windows
    except ImportError:
        return _windows_peak_working_set()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # macOS reports bytes, Linux KiB


def _windows_peak_working_set() -> int:
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):  # PROCESS_MEMORY_COUNTERS
        _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD)] + [
            (name, ctypes.c_size_t)
            for name in ("PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
                         "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage")
        ]

    try:
        counters = Counters(cb=ctypes.sizeof(Counters))
        process = ctypes.windll.kernel32.GetCurrentProcess()
        if ctypes.windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb):
            return int(counters.PeakWorkingSetSize)
    except (AttributeError, OSError):  # not Windows after all, or psapi missing
        pass
    return 0
