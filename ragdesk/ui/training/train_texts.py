"""What the training dialog says: plain functions over progress reports and results, easy to read and to test."""

from __future__ import annotations

from pathlib import Path

from ragdesk.ui.errors import sentence
from ragdesk.ui.item_models import home_relative


def duration(seconds: float | None) -> str:
    seconds = int(round(seconds or 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def phase_text(p) -> str:
    """The line above the progress bar for one Progress report."""
    if p.phase == "train":
        return f"Training: step {p.step:,} of {p.total_steps:,}"
    if p.phase == "checkpoint":
        return f"Saving a checkpoint at step {p.step:,}…"
    if p.phase == "eval":
        return "Measuring the loss after training…" if p.step else "Measuring the loss before training…"
    text = sentence(p.message or {"load": "loading the base model", "data": "preparing the training data",
                                  "convert": "converting the adapter"}.get(p.phase, p.phase))
    return text[:-1] + "…" if text.endswith(".") else text


def stats_text(p) -> str:
    """``loss 2.3456 · 1,234 tokens/s · 0:05 elapsed · about 0:12 left``."""
    parts = []
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4f}")
    if p.tokens_per_s:
        parts.append(f"{p.tokens_per_s:,.0f} tokens/s")
    parts.append(f"{duration(p.elapsed_s)} elapsed")
    if p.eta_s is not None and p.step < p.total_steps:
        parts.append(f"about {duration(p.eta_s)} left")
    return " · ".join(parts)


def result_rows(result) -> list[tuple[str, str]]:
    """What a completed run achieved, as (label, value) rows."""
    t = result.training

    def change(before, after) -> str | None:
        return f"{before:.4f} → {after:.4f}" if before is not None and after is not None else None

    rows = [("Final loss", f"{t.final_loss:.4f}" if t.final_loss is not None else "–"),
            ("Training-text loss", change(t.train_loss_before, t.train_loss_after)),
            ("Held-out questions loss", change(t.heldout_loss_before, t.heldout_loss_after)),
            ("Speed", f"{t.tokens_per_s:,.0f} tokens/s ({t.step:,} steps, {t.tokens_trained:,} tokens)"),
            ("Adapter", f"{Path(result.adapter_path or '').name} for {result.base_model}, "
                        f"in {home_relative(str(Path(result.adapter_path or '').parent))}")]
    return [(label, value) for label, value in rows if value]


def result_html(result) -> str:
    from html import escape

    cells = "".join(f"<tr><td style='padding-right:12px'>{escape(k)}</td><td>{escape(v)}</td></tr>"
                    for k, v in result_rows(result))
    return f"<table>{cells}</table>"


def ended_text(result) -> str:
    """How a run ended, in one sentence."""
    t = result.training
    if result.status == "completed":
        return f"Training '{result.name}' finished: {t.step:,} steps, adapter registered for {result.base_model}."
    if not t.total_steps:
        return f"Training '{result.name}' was cancelled before it started; nothing was saved."
    return (f"Training '{result.name}' stopped at step {t.step} of {t.total_steps}; its checkpoint is saved: "
            f"Models ▸ Train adapter… resumes it.")
