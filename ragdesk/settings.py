"""User settings, stored as JSON in the data folder.

One dataclass holds every knob the CLI and the Settings dialog expose; unknown
keys in the file are kept (a newer ragdesk may have written them) and bad
values fall back to defaults instead of stopping the app.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ragdesk import paths

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_COLLECTION = "default"

DOCUMENT_EXTENSIONS = (
    ".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".xlsm",
    ".csv", ".tsv", ".epub", ".odt", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp",
)
CODE_EXTENSIONS = (
    ".py", ".js", ".jsx", ".ts", ".tsx", ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cc",
    ".cs", ".go", ".rs", ".rb", ".php", ".swift", ".scala", ".sh", ".bash", ".sql", ".r",
    ".lua", ".pl", ".toml", ".yaml", ".yml", ".json", ".ini", ".cfg", ".tex",
)
# A folder named "env" is not in this list: it is as often documentation (Rust's
# std::env pages) as a virtualenv, and the walker recognises environments by
# their marker files (pyvenv.cfg, conda-meta) whatever their name.
SKIP_DIRS = (
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv",
    ".tox", ".mypy_cache", ".pytest_cache", "site-packages", "dist", "build",
)

# Lists that earlier releases wrote into settings.json as their defaults. Such a
# saved list is the user's *default*, not a choice: it is upgraded on load so
# that new formats and rules reach existing users.
_FORMER_DEFAULTS = {
    "extensions": [
        (".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".docx",
         ".py", ".js", ".jsx", ".ts", ".tsx", ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cc",
         ".cs", ".go", ".rs", ".rb", ".php", ".swift", ".scala", ".sh", ".bash", ".sql", ".r",
         ".lua", ".pl", ".toml", ".yaml", ".yml", ".json", ".ini", ".cfg", ".tex", ".csv"),
    ],
    "skip_dirs": [
        (".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "env",
         ".tox", ".mypy_cache", ".pytest_cache", "site-packages", "dist", "build"),
    ],
}


def _default_threads() -> int:
    # Half the logical CPUs (about the physical cores), at most 8: llama.cpp slows
    # down sharply when its threads compete with each other or with the GUI.
    return max(1, min(8, (os.cpu_count() or 2) // 2))


@dataclass
class Settings:
    """Every user-tunable setting, with sensible defaults."""

    # knowledge store
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    # "auto" (an int8 ONNX copy made on first use, PyTorch when that fails), "onnx-int8" or "torch"
    embedding_backend: str = "auto"
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    max_file_mb: float = 50.0
    extensions: list[str] = field(default_factory=lambda: list(DOCUMENT_EXTENSIONS + CODE_EXTENSIONS))
    skip_dirs: list[str] = field(default_factory=lambda: list(SKIP_DIRS))
    skip_hidden: bool = True
    respect_ignore_files: bool = True  # .gitignore (every level), .git/info/exclude, .ragdeskignore
    live_sync: bool = True  # the app keeps its collections' folders in sync while it runs
    chunk_context: bool = True  # embed chunks under their document title and heading path
    drop_page_chrome: bool = True  # leave web pages' navigation, sidebars and link lists out
    # new collections also embed every two consecutive sentences (ingest/windows.py):
    # better vector search for questions about one sentence, indexing 2.2-2.5 times as long
    sentence_windows: bool = False
    default_collection: str = DEFAULT_COLLECTION
    # retrieval
    top_k: int = 5
    search_mode: str = "hybrid"
    relevance_threshold: float = 0.25
    reranker: str | None = None  # an installed reranker's name (or folder); None: no reranking
    rerank_top_n: int = 30  # candidates the reranker reorders (20-50)
    # generation
    model: str | None = None
    adapter: str | None = None
    n_threads: int = field(default_factory=_default_threads)
    n_threads_batch: int | None = None  # threads evaluating a prompt; None: the idle cores, per prompt (Engine)
    n_ctx: int = 4096
    n_gpu_layers: int = 0
    max_tokens: int = 512
    temperature: float = 0.2
    # where answers are generated: None is this computer, else an OpenAI-compatible server
    engine_url: str | None = None
    engine_key: str | None = None  # kept in this file in plain text, like any client's config
    engine_model: str | None = None  # the server's model name (None: the first it lists)
    engine_adapters: dict = field(default_factory=dict)  # local adapter name -> server name or "lora:ID"
    engine_timeout: float = 120.0  # seconds the server may stay silent
    # ragdesk serve and Settings -> Serve to other programs
    serve_host: str = "127.0.0.1"
    serve_port: int = 8756
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read settings; a missing or unreadable file gives the defaults."""
        path = path or paths.settings_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        settings = cls()
        known = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key in known and key != "extra":
                default = getattr(settings, key)
                if isinstance(value, list) and any(list(old) == value for old in _FORMER_DEFAULTS.get(key, ())):
                    continue  # an earlier release's default: take today's
                if default is None or value is None or isinstance(value, type(default)) or (
                    isinstance(default, float) and isinstance(value, int)
                ):
                    setattr(settings, key, value)
            elif key != "extra":
                settings.extra[key] = value
        return settings

    def save(self, path: Path | None = None) -> None:
        """Write settings atomically (a crash never leaves half a file)."""
        path = path or paths.settings_path()
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
