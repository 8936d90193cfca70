"""Pulling rerankers from the Hugging Face hub: a cross-encoder folder, through huggingface_hub's snapshot download.

Only the files needed to load one are fetched (config, tokenizer,
``model.safetensors``; never ONNX, Flax or pickled weights). Interrupted pulls
resume: huggingface_hub keeps partial files in the target folder's
``.cache``. The folder is checked (a one-output cross-encoder) before it is
registered as kind ``reranker``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ragdesk import paths
from ragdesk.llm.download import Cancel, DownloadCancelled, DownloadError, Progress, hub_endpoint, hub_errors
from ragdesk.llm.registry import InvalidModelFile, ModelEntry, ModelRegistry, default_name


@dataclass(frozen=True)
class RerankerOffer:
    """A reranker that can be pulled by its short name (sizes as last seen on the hub)."""

    name: str
    repo_id: str
    license: str
    approx_size: int
    description: str

    @property
    def source(self) -> str:
        return f"hf:{self.repo_id}"


RERANKERS: tuple[RerankerOffer, ...] = (
    RerankerOffer("ms-marco-minilm-l6-v2", "cross-encoder/ms-marco-MiniLM-L6-v2", "Apache-2.0", 91_000_000,
                  "English passage reranker trained on MS MARCO; fast on a CPU."),
    RerankerOffer("bge-reranker-base", "BAAI/bge-reranker-base", "MIT", 1_130_000_000,
                  "English and Chinese; more accurate, several times slower."),
)


def find_offer(name_or_repo: str) -> RerankerOffer | None:
    key = name_or_repo.lower()
    return next((o for o in RERANKERS if key in (o.name, o.repo_id.lower())), None)


def rerankers_dir() -> Path:
    """Where pulled rerankers live (inside the models folder, so removing one deletes it)."""
    path = paths.models_dir() / "rerankers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pull_reranker(
    name_or_repo: str,
    *,
    registry: ModelRegistry,
    revision: str | None = None,
    name: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> ModelEntry:
    """Download a reranker (catalogue name or hub repo id), check it, register it; return its entry."""
    from huggingface_hub import snapshot_download

    from ragdesk.reranker import SNAPSHOT_FILES

    offer = find_offer(name_or_repo)
    if offer is None and "/" not in name_or_repo:
        names = ", ".join(o.name for o in RERANKERS)
        raise DownloadError(f"'{name_or_repo}' is not a known reranker ({names}); or give a hub repository id.")
    repo_id = offer.repo_id if offer else name_or_repo
    source = f"hf:{repo_id}"
    existing = registry.find_by_source(source)
    if existing is not None and existing.exists and revision in (None, existing.meta.get("revision")):
        return existing
    if existing is not None and not existing.exists:
        registry.remove(existing.name, delete_file=False)
    name = name or (offer.name if offer else default_name(Path(repo_id.split("/")[-1])))
    registry.check_name(name)  # before downloading, not after
    if cancel is not None and cancel():
        raise DownloadCancelled(f"the download of {repo_id} was cancelled before it started.")
    folder = rerankers_dir() / repo_id.replace("/", "--")
    endpoint = hub_endpoint(endpoint)
    with hub_errors(repo_id, repo_id, revision, endpoint):
        # cache_dir inside the folder too: huggingface_hub's bookkeeping goes where the model goes.
        snapshot_download(repo_id, revision=revision, allow_patterns=list(SNAPSHOT_FILES), local_dir=folder,
                          cache_dir=folder / ".cache" / "hub", endpoint=endpoint, token=token,
                          tqdm_class=_progress_bar(repo_id, progress, cancel))
    shutil.rmtree(folder / ".cache", ignore_errors=True)  # download bookkeeping, not part of the model
    meta = {"repo_id": repo_id, "revision": revision}
    try:
        return registry.add_reranker(folder, name=name, source=source, license=offer.license if offer else None,
                                     meta=meta)
    except InvalidModelFile as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise InvalidModelFile(f"{repo_id} is not a usable reranker: {exc}") from None


def _progress_bar(repo_id: str, progress: Progress | None, cancel: Cancel | None):
    """A tqdm class for snapshot_download that forwards byte counts to ``progress`` and honours ``cancel``."""
    from tqdm.auto import tqdm

    class Bar(tqdm):
        done = 0  # bytes over every file, shared by the bars of one pull

        def __init__(self, *args, **kwargs):
            self.counts_bytes = kwargs.get("unit") == "B"
            kwargs["disable"] = True  # nothing on the terminal: the caller shows progress
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            if cancel is not None and cancel():
                raise DownloadCancelled(f"the download of {repo_id} was cancelled; pull again to resume.")
            if self.counts_bytes and n:
                Bar.done += int(n)
                if progress is not None:
                    progress(Bar.done, 0)
            return super().update(n)

    return Bar
