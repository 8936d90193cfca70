"""Which files ingestion considers (extensions, skipped folders, ignore files, size limit) and how it reads them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings is cheap, but the walker must not depend on it at import
    from ragdesk.settings import Settings

DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024


def normalize_extensions(extensions: Iterable[str]) -> frozenset[str]:
    """``["PY", ".Md"]`` -> ``{".py", ".md"}``; blanks are dropped."""
    out = set()
    for ext in extensions:
        ext = str(ext).strip().lower()
        if ext:
            out.add(ext if ext.startswith(".") else "." + ext)
    return frozenset(out)


@dataclass(frozen=True)
class IngestRules:
    """The knobs of the walker, loader and reader (built from Settings by the indexer)."""

    extensions: frozenset[str]  # lower-case, with dot
    skip_dirs: frozenset[str]  # folder names never entered
    skip_hidden: bool = True  # names starting with '.'
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    respect_ignore_files: bool = True  # .gitignore, .git/info/exclude, .ragdeskignore
    # Embed each chunk under its document title and heading path (ragdesk.ingest.context).
    chunk_context: bool = True
    # Leave web pages' navigation, sidebars, link lists and help overlays out (ragdesk.ingest.chrome).
    drop_chrome: bool = True

    def __post_init__(self):
        # Accept any iterable and any spelling, so callers can't get the format wrong.
        object.__setattr__(self, "extensions", normalize_extensions(self.extensions))
        object.__setattr__(self, "skip_dirs", frozenset(str(d) for d in self.skip_dirs))

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestRules:
        """The rules a user's settings describe."""
        return cls(
            extensions=frozenset(settings.extensions),
            skip_dirs=frozenset(settings.skip_dirs),
            skip_hidden=bool(settings.skip_hidden),
            max_file_bytes=max(1, int(settings.max_file_bytes)),
            respect_ignore_files=bool(settings.respect_ignore_files),
            chunk_context=bool(settings.chunk_context),
            drop_chrome=bool(settings.drop_page_chrome),
        )

    @classmethod
    def default(cls) -> IngestRules:
        """The rules of default settings."""
        from ragdesk.settings import Settings

        return cls.from_settings(Settings())

    def accepts_name(self, name: str) -> bool:
        """Whether a file name has one of the indexed extensions."""
        dot = name.rfind(".")
        return dot > 0 and name[dot:].lower() in self.extensions


def human_size(n: int) -> str:
    """``76_755_353`` -> ``"73.2 MB"``; whole numbers lose their ``.0``."""
    if n < 1024:
        return f"{n} bytes"
    for unit, scale in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3)):
        value = n / scale
        if value < 1024 or unit == "GB":
            text = f"{value:.1f}"
            return f"{text[:-2] if text.endswith('.0') else text} {unit}"
    raise AssertionError("unreachable")


def too_large_reason(size: int, limit: int) -> str:
    """The user-facing reason for a file over the size limit."""
    return f"larger than the {human_size(limit)} size limit ({human_size(size)})"
