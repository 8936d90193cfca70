"""Downloading GGUF files from the Hugging Face hub: resumable, verified, cancellable.

huggingface_hub gives us the file's metadata (one HEAD on ``/resolve``: commit,
size, and the LFS sha256 as ETag), its URL, headers, HTTP session and error
types. The transfer loop is ours because huggingface_hub 2.x downloads to a
throw-away temporary file that it deletes on any failure, so an interrupted
2 GB download would start again from zero. Here the bytes go to
``models/.partial/<sha256>.part`` and a later pull continues with an HTTP
Range request, within one call (after a dropped connection) and across calls
(after a cancel, a crash or a reboot). Keying the partial file by the hub's
sha256 means bytes of an older upload are never spliced onto a newer one.

Every finished file is checked against the hub's size and sha256 and against
the GGUF header rules before it is moved into place and registered.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ragdesk import paths
from ragdesk.llm import catalogue
from ragdesk.llm.registry import (
    InvalidModelFile,
    ModelEntry,
    ModelError,
    ModelRegistry,
    default_name,
    inspect_file,
    sha256_file,
)

CHUNK_SIZE = 1 << 20  # bytes between progress reports and cancel checks
MAX_RETRIES = 5  # consecutive failures without new bytes before giving up
RETRY_WAIT = 0.5  # seconds before the first retry; doubles, capped at 8 s
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

Progress = Callable[[int, int], None]  # (bytes done, bytes total; 0 if unknown)
Cancel = Callable[[], bool]


class DownloadError(ModelError):
    """A pull failed; str() says why and what to do."""


class HubUnreachable(DownloadError):
    """No connection to the hub (offline, DNS, refused, timed out, HF_HUB_OFFLINE)."""


class RemoteFileNotFound(DownloadError):
    """The repository, revision or file does not exist (or is private)."""


class VerificationFailed(DownloadError):
    """The downloaded bytes do not match the hub's size or sha256."""


class DownloadCancelled(DownloadError):
    """The cancel flag was raised; the partial file is kept for resuming."""


@dataclass(frozen=True)
class RemoteFile:
    """One file on the hub as its metadata describes it."""

    repo_id: str
    filename: str
    revision: str
    url: str  # where the bytes are (a CDN address for LFS files)
    commit: str | None
    size: int | None
    sha256: str | None

    @property
    def source(self) -> str:
        return f"hf:{self.repo_id}/{self.filename}"


def _transient_errors() -> tuple[type[BaseException], ...]:
    # huggingface_hub 2.x talks through httpx2, 1.x through httpx.
    try:
        import httpx2 as httpx
    except ImportError:
        import httpx  # type: ignore[no-redef]
    return (httpx.TransportError,)


def hub_endpoint(endpoint: str | None = None) -> str:
    """The hub's base URL: ``endpoint``, else $HF_ENDPOINT read now (not at import), else huggingface.co."""
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def _offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return flag in ("1", "true", "yes", "on") or bool(constants.HF_HUB_OFFLINE)


def remote_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> RemoteFile:
    """Ask the hub about one file (a HEAD request); clear errors when offline or not found."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    endpoint = hub_endpoint(endpoint)
    with hub_errors(repo_id, f"{repo_id}/{filename}", revision, endpoint, filename=filename):
        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    sha256 = meta.etag if meta.etag and _SHA256.match(meta.etag) else None
    if sha256 is None:  # not an LFS etag: ask the tree API for the LFS oid
        sha256 = _lfs_sha256(repo_id, filename, meta.commit_hash or revision, endpoint, token)
    return RemoteFile(repo_id, filename, revision or "main", meta.location, meta.commit_hash, meta.size, sha256)


@contextmanager
def hub_errors(repo_id: str, what: str, revision: str | None, endpoint: str, *, filename: str | None = None):
    """Turn huggingface_hub's exceptions inside the block into DownloadErrors that say what to do."""
    from huggingface_hub import errors

    host = urlparse(endpoint).netloc or endpoint
    if _offline():
        raise HubUnreachable(f"could not reach {host} to download {what}: offline mode is on (HF_HUB_OFFLINE).")
    try:
        yield
    except errors.HFValidationError as exc:
        raise DownloadError(f"'{repo_id}' is not a valid repository id (expected owner/name): {exc}") from None
    except (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError, *_transient_errors()) as exc:
        raise HubUnreachable(f"could not reach {host} to download {what} (offline?): {exc}") from None
    except errors.GatedRepoError:
        raise DownloadError(
            f"{repo_id} is gated: accept its terms on {host}/{repo_id}, then log in with `hf auth login`."
        ) from None
    except errors.RepositoryNotFoundError:
        raise RemoteFileNotFound(
            f"there is no repository '{repo_id}' on {host} (or it is private: log in with `hf auth login`)."
        ) from None
    except errors.RevisionNotFoundError:
        raise RemoteFileNotFound(f"{repo_id} has no revision '{revision}'.") from None
    except errors.RemoteEntryNotFoundError:
        raise RemoteFileNotFound(f"{repo_id} has no file '{filename}'.") from None
    except errors.HfHubHTTPError as exc:
        raise DownloadError(f"{host} refused {what}: {_status(exc)}.") from None


def _lfs_sha256(repo_id: str, filename: str, revision: str | None, endpoint: str, token) -> str | None:
    from huggingface_hub import HfApi, errors

    try:
        infos = HfApi(endpoint=endpoint, token=token).get_paths_info(repo_id, [filename], revision=revision)
    except (errors.HfHubHTTPError, *_transient_errors()):
        return None
    lfs = getattr(infos[0], "lfs", None) if infos else None
    return lfs.sha256 if lfs is not None else None


def _status(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return f"HTTP {response.status_code}" if response is not None else str(exc)


def pull(repo_id: str, filename: str, **options) -> Path:
    """Download ``repo_id``/``filename`` into the data folder, verify it, register it; return its path.

    ``options`` are :func:`pull_entry`'s keywords (revision, progress, cancel, dest_dir, registry, ...).
    """
    return pull_entry(repo_id, filename, **options).path


def pull_model(name_or_repo: str, filename: str | None = None, **options) -> ModelEntry:
    """Pull a catalogue model by name, or ``repo_id`` + ``filename``; return its registry entry."""
    if filename is None:
        entry = catalogue.find(name_or_repo)
        if entry is None:
            names = ", ".join(e.name for e in catalogue.CATALOGUE)
            if "/" in name_or_repo:
                raise DownloadError(f"give the file to download too: `ragdesk models pull {name_or_repo} FILE.gguf`.")
            raise DownloadError(f"'{name_or_repo}' is not in the catalogue ({names}); or give REPO_ID FILENAME.")
        options.setdefault("name", entry.name)
        return pull_entry(entry.repo_id, entry.filename, **options)
    return pull_entry(name_or_repo, filename, **options)


def pull_entry(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    dest_dir: Path | None = None,
    registry: ModelRegistry | None = None,
    name: str | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
) -> ModelEntry:
    """Like :func:`pull` but returns the registry entry. Opens the default database if no registry is given."""
    if registry is None:
        from ragdesk import db

        conn = db.connect(paths.db_path())
        try:
            return pull_entry(
                repo_id, filename, revision=revision, progress=progress, cancel=cancel, dest_dir=dest_dir,
                registry=ModelRegistry(conn), name=name, endpoint=endpoint, token=token,
            )
        finally:
            conn.close()
    known = catalogue.find_file(repo_id, filename)
    source = f"hf:{repo_id}/{filename}"
    existing = registry.find_by_source(source)
    if existing is not None and existing.exists and revision in (None, existing.meta.get("revision")):
        _report(progress, existing.size, existing.size)  # already here: no network needed
        return existing
    if existing is not None and not existing.exists:
        registry.remove(existing.name, delete_file=False)  # its file was deleted by hand: fetch it again
    name = name or (known.name if known else default_name(Path(filename)))
    registry.check_name(name)  # before downloading gigabytes, not after
    if cancel is not None and cancel():
        raise DownloadCancelled(f"the download of {filename} was cancelled before it started.")
    remote = remote_file(repo_id, filename, revision=revision, endpoint=endpoint, token=token)
    dest_dir = Path(dest_dir) if dest_dir is not None else paths.models_dir()
    dest = dest_dir / repo_id.replace("/", "--") / Path(filename).name
    if dest.is_file() and _matches(dest, remote):
        digest = sha256_file(dest)  # e.g. a crash between moving the file and registering it
    else:
        digest = _download(remote, dest, dest_dir, progress, cancel, endpoint, token)
    meta = {"repo_id": repo_id, "filename": filename, "revision": revision, "commit": remote.commit}
    licence = known.license if known else None
    return registry.add(dest, name=name, source=source, license=licence, sha256=digest, meta=meta)


def _matches(path: Path, remote: RemoteFile) -> bool:
    if remote.size is not None and path.stat().st_size != remote.size:
        return False
    return remote.sha256 is None or sha256_file(path) == remote.sha256


def _download(remote: RemoteFile, dest: Path, dest_dir: Path, progress, cancel, endpoint, token) -> str:
    """Fetch into the partial file, verify it, move it to ``dest``; return its sha256."""
    import filelock

    key = remote.sha256 or hashlib.sha1(f"{remote.source}@{remote.commit}".encode()).hexdigest()
    part = dest_dir / ".partial" / f"{key}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock = filelock.FileLock(str(part) + ".lock", timeout=0)
        lock.acquire()
    except filelock.Timeout:
        raise DownloadError(f"{remote.filename} is already being downloaded (by another window or process).") from None
    try:
        have = part.stat().st_size if part.exists() else 0
        if remote.size is not None:
            free = shutil.disk_usage(part.parent).free
            if remote.size - have > free:
                raise DownloadError(
                    f"not enough free disk space in {dest_dir}: {remote.filename} needs "
                    f"{_mb(remote.size - have)} more, {_mb(free)} is free."
                )
        _fetch(remote, part, progress, cancel, endpoint, token)
        digest = _verify(remote, part)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, dest)
        return digest
    finally:
        lock.release()


def _fetch(remote: RemoteFile, part: Path, progress, cancel, endpoint, token) -> None:
    """Append the missing bytes to ``part``, resuming with Range after dropped connections."""
    from huggingface_hub import constants, errors
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    headers = build_hf_headers(token=token)
    headers["Accept-Encoding"] = "identity"  # byte counts must be the file's, not gzip's
    if urlparse(remote.url).netloc != urlparse(hub_endpoint(endpoint)).netloc:
        headers.pop("authorization", None)  # a signed CDN address; the token stays with the hub
    total, failures = remote.size, 0
    with open(part, "ab") as out:
        done = out.tell()
        while total is None or done < total:
            if cancel is not None and cancel():
                raise _cancelled(remote, done)
            request = dict(headers)
            if done:
                request["Range"] = f"bytes={done}-"
            try:
                with get_session().stream(  # the hub's client has no timeout: a stalled read must end
                    "GET", remote.url, headers=request, follow_redirects=True, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT
                ) as response:
                    if response.status_code == 416:  # nothing left to send: the size check decides
                        break
                    hf_raise_for_status(response)
                    if done and not response.headers.get("Content-Range", "").startswith(f"bytes {done}-"):
                        out.seek(0)  # the server ignored our Range: start over
                        out.truncate()
                        done = 0
                    _report(progress, done, total)
                    for chunk in response.iter_bytes(CHUNK_SIZE):
                        if cancel is not None and cancel():
                            raise _cancelled(remote, done)
                        out.write(chunk)
                        done += len(chunk)
                        failures = 0
                        _report(progress, done, total)
                if total is None:
                    break  # size unknown: a stream that ended cleanly is the whole file
            except _transient_errors() as exc:
                out.flush()
                failures += 1
                if failures > MAX_RETRIES:
                    raise DownloadError(
                        f"the download of {remote.filename} keeps failing ({exc}); {_mb(done)} of {_mb(total)} "
                        "is kept: run the same pull again to resume."
                    ) from None
                time.sleep(min(RETRY_WAIT * 2 ** (failures - 1), 8.0))
            except errors.HfHubHTTPError as exc:  # e.g. an expired signed address: a new pull gets a fresh one
                raise DownloadError(f"the hub refused the download of {remote.filename}: {_status(exc)}.") from None


def _cancelled(remote: RemoteFile, done: int) -> DownloadCancelled:
    return DownloadCancelled(
        f"the download of {remote.filename} was cancelled; {_mb(done)} of {_mb(remote.size)} is kept, "
        "pull again to resume."
    )


def _verify(remote: RemoteFile, part: Path) -> str:
    """Check size, sha256 and GGUF header; a file that fails is deleted (it cannot be resumed)."""
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        part.unlink(missing_ok=True)
        raise VerificationFailed(
            f"the download of {remote.filename} has {size} bytes but the hub says {remote.size}; "
            "it was deleted, try again."
        )
    digest = sha256_file(part)
    if remote.sha256 is not None and digest != remote.sha256:
        part.unlink(missing_ok=True)
        raise VerificationFailed(
            f"the download of {remote.filename} does not match the hub's sha256 "
            f"(expected {remote.sha256[:12]}..., got {digest[:12]}...); it was deleted, try again."
        )
    try:
        inspect_file(part)
    except InvalidModelFile as exc:
        part.unlink(missing_ok=True)
        raise InvalidModelFile(f"{remote.repo_id}/{remote.filename} is not a usable GGUF file: {exc}") from None
    return digest


def _report(progress: Progress | None, done: int, total: int | None) -> None:
    if progress is not None:
        progress(done, total or 0)


def _mb(n: int | None) -> str:
    return "an unknown size" if n is None else f"{n / 1e6:.1f} MB"
