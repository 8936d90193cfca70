"""Switches for the search features of issue #11, so a benchmark can turn each one off (the ablation).

The app always runs with every feature on (``DEFAULT``). ``titles`` weighs
the title and heading columns at query time (off: the body alone ranks);
the embedded title prefix and the page-chrome filter are ingestion settings
(``chunk_context``, ``drop_page_chrome``), which the benchmarks turn off with
a fresh index. ``identifiers`` acts at indexing (forms added to the FTS text)
and at query time; ``dedupe`` and ``fusion`` act at query time only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

FUSIONS = ("tuned", "rrf")


@dataclass(frozen=True)
class SearchOptions:
    titles: bool = True  # title and heading FTS columns weighed (point 1)
    identifiers: bool = True  # identifier forms in the index and the query (point 2)
    dedupe: bool = True  # copies of one text take one slot (point 3)
    fusion: str = "tuned"  # "tuned" (point 5) or "rrf" (plain reciprocal-rank fusion)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r} (choose from {', '.join(FUSIONS)})")


DEFAULT = SearchOptions()
_active = DEFAULT


def active() -> SearchOptions:
    """The options in force (the defaults unless a benchmark chose others)."""
    return _active


def use(options: SearchOptions | None = None, **changes) -> SearchOptions:
    """Put ``options`` (or the defaults with ``changes``) in force; returns the previous ones."""
    global _active
    previous = _active
    _active = replace(options or DEFAULT, **changes)
    return previous
