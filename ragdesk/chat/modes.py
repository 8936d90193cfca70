"""The knowledge modes and what each one switches on."""

from __future__ import annotations

from dataclasses import dataclass


class ModeError(Exception):
    """A mode that cannot run with the current choices (no adapter, no collection)."""


@dataclass(frozen=True)
class Mode:
    name: str
    label: str
    retrieval: bool
    adapter: bool


MODES: dict[str, Mode] = {
    "rag": Mode("rag", "RAG", retrieval=True, adapter=False),
    "lora": Mode("lora", "merged-LoRA", retrieval=False, adapter=True),
    "hybrid": Mode("hybrid", "hybrid", retrieval=True, adapter=True),
    # The reference point of every comparison: base model, no adapter, no retrieval.
    "closed": Mode("closed", "closed-book", retrieval=False, adapter=False),
}


def get_mode(name: str) -> Mode:
    try:
        return MODES[name]
    except KeyError:
        raise ModeError(f"unknown mode {name!r} (choose from {', '.join(MODES)})") from None
