"""The library half of the AppController: collections, library jobs and search.

Kept apart from the chat and model state for size; it is mixed into
:class:`ragdesk.ui.controller.AppController`, which declares the signals used here.
"""

from __future__ import annotations

import logging

from ragdesk.ui.library.live_sync import LIVE_JOB_KINDS
from ragdesk.ui.workers.threads import IndexJob, SearchRequest

log = logging.getLogger(__name__)


_JOB_FAILURE_TITLES = {
    "index": "Indexing failed",
    "resync": "Re-sync failed",
    "forget": "Could not forget the folder",
    "create": "Could not create the collection",
    "delete": "Could not delete the collection",
    "windows-on": "Could not turn on sentence-level search",
    "windows-off": "Could not turn off sentence-level search",
}


class LibraryCommands:
    """Collections (read by the search worker), jobs (run by the index worker) and search."""

    def collections(self):
        """CollectionInfo for every collection, as last read by the worker (empty until then)."""
        return list(self.collection_infos or [])

    def refresh_collections(self) -> None:
        """Re-read the collections and their counts (off the GUI thread)."""
        self.collection_requests += 1
        self._list_collections.emit(self.collection_requests)

    def _on_collections(self, infos, counts, request: int) -> None:
        self.collection_infos, self.source_counts = list(infos), dict(counts)
        self.collections_answer_to = max(self.collections_answer_to, request)
        self._settle_collection()
        self.collectionsChanged.emit()

    def _settle_collection(self) -> None:
        """Stand on a collection that exists: the one chosen if it does, else the default, else the first.

        Left alone while a job of this app is creating the chosen one.
        """
        names = sorted(info.name for info in self.collection_infos or [])
        if not names or self.collection in names:
            return
        if any(job.collection == self.collection and not job.finished for job in self.jobs.values()):
            return
        default = self.settings.default_collection
        self.set_collection(default if default in names else names[0])

    def _on_external_change(self) -> None:
        """Another program wrote to the database: re-read the library and which modes can run."""
        self.refresh_collections()
        self._refresh.emit()

    def document_text(self, document_id: int) -> str | None:
        try:
            return self.store.document_text(document_id) or None
        except Exception:  # noqa: BLE001
            log.exception("cannot read document %s", document_id)
            return None

    def _submit(self, kind: str, collection: str | None, paths_: list[str] | None = None) -> IndexJob:
        job = IndexJob(next(self._ids), kind, collection or self.collection, [str(p) for p in paths_ or []])
        self.jobs[job.id] = job
        self.jobAdded.emit(job)
        self._job.emit(job)
        return job

    def index_paths(self, paths_, collection: str | None = None) -> IndexJob:
        """Index files and folders in the background (into the current collection by default)."""
        return self._submit("index", collection, list(paths_))

    def resync(self, collection: str | None = None, path: str | None = None) -> IndexJob:
        """Re-index a whole collection, or one of its folders."""
        if path:
            return self._submit("index", collection, [path])
        return self._submit("resync", collection)

    def forget(self, paths_, collection: str | None = None) -> IndexJob:
        return self._submit("forget", collection, list(paths_))

    def create_collection(self, name: str) -> IndexJob:
        return self._submit("create", name)

    def delete_collection(self, name: str) -> IndexJob:
        return self._submit("delete", name)

    def set_sentence_windows(self, collection: str, on: bool) -> IndexJob:
        """Turn a collection's sentence windows on (embedding those of its chunks) or off."""
        return self._submit("windows-on" if on else "windows-off", collection)

    def has_sentence_windows(self, collection: str) -> bool:
        """Whether the collection has sentence windows on, as last read by the worker."""
        return any(info.name == collection and info.collection.sentence_windows for info in self.collections())

    def cancel_job(self, job: IndexJob) -> None:
        job.cancel.set()

    def _on_job_progress(self, job: IndexJob, progress) -> None:
        self.jobProgress.emit(job, progress)
        if progress is not None and progress.phase == "scanning":
            self.refresh_collections()  # a new collection appears as soon as its run starts
        elif not self._collections_timer.isActive():
            self._collections_timer.start()

    def _on_job_done(self, job: IndexJob) -> None:
        self.jobDone.emit(job)
        self._library_changed(job)

    def _on_job_failed(self, job: IndexJob, message: str) -> None:
        self.jobDone.emit(job)
        if job.kind not in LIVE_JOB_KINDS:  # a background sync reports in the Library, not in a dialog
            self.errorOccurred.emit(_JOB_FAILURE_TITLES.get(job.kind, "The library operation failed"), message)
        self._library_changed(job)

    def _library_changed(self, job: IndexJob) -> None:
        self._collections_timer.stop()
        if job.kind == "create" and job.state == "done":
            self.set_collection(job.collection)
        if job.kind == "delete" and job.collection == self.collection:
            names = [c.name for c in self.collections() if c.name != job.collection]
            self.set_collection(names[0] if names else self.settings.default_collection)
        self.refresh_collections()
        self._refresh.emit()  # chunk counts decide which modes can run

    def search(self, query: str, k: int | None = None) -> SearchRequest | None:
        query = query.strip()
        if not query:
            return None
        request = SearchRequest(next(self._ids), query, self.collection, k)
        self._search.emit(request)
        return request
