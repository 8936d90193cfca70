"""The knowledge modes: the one table every front end reads.

Each mode has a stable ``name`` (the CLI's ``--mode`` value, the API's model
id prefix, what conversations record), one ``label`` shown to people
everywhere (app, CLI output, reports), its place in the app's order (Ctrl+1..4),
what it needs (retrieval over a collection, a LoRA adapter) and a one-line
``help``. Whether a mode can run with given choices, and why not, is decided
here by :func:`unavailable_reason`; everything else asks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ragdesk.errors import RagdeskError


class ModeError(RagdeskError):
    """A mode that cannot run with the current choices (no adapter, no collection)."""


@dataclass(frozen=True)
class Mode:
    name: str
    label: str
    order: int  # position in the app's mode bar and Ctrl+N shortcut
    retrieval: bool  # needs a collection with documents in it
    adapter: bool  # needs a LoRA adapter
    help: str

    @property
    def needs(self) -> tuple[str, ...]:
        """What the mode needs besides a model: ``"documents"`` and/or ``"adapter"``."""
        return (("documents",) if self.retrieval else ()) + (("adapter",) if self.adapter else ())


_TABLE = (
    Mode("rag", "RAG", 1, retrieval=True, adapter=False,
         help="Answers from your documents, citing the chunks it used."),
    Mode("lora", "merged-LoRA", 2, retrieval=False, adapter=True,
         help="Answers from what the LoRA adapter taught the model; no retrieval."),
    Mode("hybrid", "hybrid", 3, retrieval=True, adapter=True,
         help="The adapter and retrieval together, with citations."),
    # The reference point of every comparison: base model, no adapter, no retrieval.
    Mode("closed", "closed-book", 4, retrieval=False, adapter=False,
         help="The model alone: no documents, no adapter."),
)

MODES: dict[str, Mode] = {m.name: m for m in sorted(_TABLE, key=lambda m: m.order)}
MODE_ORDER: tuple[str, ...] = tuple(MODES)  # rag, lora, hybrid, closed
BASELINE = "closed"
# When the chosen mode can't run, the app falls back to the first of these that
# can: keep retrieval if possible, then the adapter, then the model alone.
FALLBACK: tuple[str, ...] = ("rag", "hybrid", "lora", "closed")
NO_ADAPTER = "choose a LoRA adapter first"


def get_mode(name: str) -> Mode:
    """The mode called ``name``; ModeError naming the choices if there is none."""
    try:
        return MODES[name]
    except KeyError:
        raise ModeError(f"unknown mode {name!r} (choose from {', '.join(MODES)})") from None


def label(name: str | None) -> str:
    """The label shown for mode ``name`` (the name itself for an unknown one)."""
    return MODES[name].label if name in MODES else (name or "")


def unavailable_reason(mode: str, *, has_adapter: bool, chunks: int | None, collection: str | None = None) -> str | None:
    """Why ``mode`` can't run, or None if it can.

    ``chunks`` is the collection's chunk count, None if the collection doesn't
    exist yet (nothing indexed: that reads as empty, not as an unknown name).
    """
    spec = get_mode(mode)
    if spec.adapter and not has_adapter:
        return NO_ADAPTER
    if spec.retrieval and not chunks:
        named = f" {collection!r}" if collection else ""
        return f"the collection{named} is empty: add documents to it first"
    return None


def effective_mode(preferred: str, reasons: Mapping[str, str | None] | None) -> str:
    """``preferred`` if it can run (by ``reasons``), else the first of FALLBACK that can."""
    if not reasons or not reasons.get(preferred):
        return preferred
    return next((m for m in FALLBACK if not reasons.get(m)), preferred)


class ModeChoice:
    """The user's mode choice and the fallback policy, for a front end that shows one mode.

    ``preferred`` is what the user chose; :meth:`effective` is what runs given
    the reasons each mode can't run. "Model only" chosen while RAG could not run
    (an empty collection) is remembered as such: RAG comes back by itself when
    documents arrive, and is the mode to start with next time.
    """

    def __init__(self, preferred: str = "rag") -> None:
        self.preferred = preferred
        self.for_lack_of_documents = False

    def choose(self, mode: str, reasons: Mapping[str, str | None] | None) -> bool:
        """Prefer ``mode``; False (and no change) if it is unknown or can't run by ``reasons``."""
        if mode not in MODES or (reasons or {}).get(mode):
            return False
        self.for_lack_of_documents = not MODES[mode].retrieval and bool((reasons or {}).get("rag"))
        self.preferred = mode
        return True

    def reasons_changed(self, reasons: Mapping[str, str | None]) -> None:
        """RAG is preferred again once it can run, if it was left only for want of documents."""
        if self.for_lack_of_documents and not reasons.get("rag"):
            self.preferred, self.for_lack_of_documents = "rag", False

    def effective(self, reasons: Mapping[str, str | None] | None) -> str:
        """The mode that runs now (see :func:`effective_mode`)."""
        return effective_mode(self.preferred, reasons)

    @property
    def remembered(self) -> str:
        """The mode to start with next time."""
        return "rag" if self.for_lack_of_documents else self.preferred
