"""The ``model`` field of ragdesk's API: ``MODE[:COLLECTION][@ADAPTER]``.

``rag:papers`` retrieves from the collection *papers*; ``lora@papers-lora`` uses
the adapter *papers-lora* without retrieval; ``hybrid:papers@papers-lora`` does
both; ``closed`` is the base model alone. A retrieval mode without a collection
uses the default one. This module is the one place that reads and writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ragdesk.chat.modes import MODES
from ragdesk.errors import RagdeskError


class ModelIdError(RagdeskError, ValueError):
    """A ``model`` value that is not MODE[:COLLECTION][@ADAPTER] for a known mode."""


@dataclass(frozen=True)
class ModelId:
    mode: str
    collection: str | None = None
    adapter: str | None = None

    def __str__(self) -> str:
        return format_id(self.mode, self.collection, self.adapter)


def format_id(mode: str, collection: str | None = None, adapter: str | None = None) -> str:
    return mode + (f":{collection}" if collection else "") + (f"@{adapter}" if adapter else "")


def parse_id(text: str, is_collection: Callable[[str], bool] | None = None) -> ModelId:
    """Read a model id; ``is_collection`` settles a hybrid id whose names both contain ``@``.

    Collection names may contain ``@`` and adapter names ``@`` and ``:``, so the
    mode decides what follows: rag takes only a collection, lora only an adapter,
    hybrid a collection and then an adapter (split at the first ``@`` that leaves
    an existing collection, else at the first ``@``).
    """
    text = (text or "").strip()
    cut = min((i for i in (text.find(":"), text.find("@")) if i >= 0), default=len(text))
    mode, rest = text[:cut], text[cut:]
    spec = MODES.get(mode)
    if spec is None:
        raise ModelIdError(
            f"unknown model '{text}': use MODE[:COLLECTION][@ADAPTER] with MODE one of {', '.join(MODES)} "
            "(GET /v1/models lists them)"
        )
    collection = adapter = None
    if spec.retrieval and rest.startswith(":"):
        rest = rest[1:]
        if spec.adapter:
            splits = [i for i, ch in enumerate(rest) if ch == "@"]
            chosen = next((i for i in splits if is_collection and is_collection(rest[:i])), splits[0] if splits else None)
            if chosen is not None:
                collection, rest = rest[:chosen], rest[chosen:]
            else:
                collection, rest = rest, ""
        else:
            collection, rest = rest, ""
        if not collection:
            raise ModelIdError(f"'{text}' names an empty collection after ':'")
    if spec.adapter:
        if not rest.startswith("@") or len(rest) < 2:
            raise ModelIdError(f"mode {mode} needs an adapter: {mode}{':COLLECTION' if spec.retrieval else ''}@ADAPTER")
        adapter, rest = rest[1:], ""
    if rest:
        what = "a collection" if rest.startswith(":") else "an adapter"
        raise ModelIdError(f"mode {mode} does not take {what} ('{text}')")
    return ModelId(mode, collection, adapter)


def all_ids(collections: Iterable[str], adapters: Iterable[str]) -> list[str]:
    """Every model id that can be asked, given the collections and the adapters that fit the model."""
    collections, adapters = list(collections), list(adapters)
    ids = [format_id("rag", c) for c in collections]
    ids += [format_id("hybrid", c, a) for c in collections for a in adapters]
    ids += [format_id("lora", None, a) for a in adapters]
    ids.append("closed")
    return ids
