"""Read ahead of the embedder: files are loaded, extracted and chunked on a worker thread.

Embedding (onnxruntime or torch, both outside the GIL) then runs on one core
while the next files are read and split on the other. The reader only prepares;
every database write and every decision that depends on the run so far (moves,
touches) stays on the indexing thread, so the commit order and crash
consistency are the same as reading inline. A small bounded queue keeps memory
flat however many files there are.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ragdesk.ingest import FileEntry

READ_AHEAD = 512  # files prepared ahead of the embedder, at most
READ_AHEAD_BYTES = 64 << 20  # and at most this much file content


@dataclass
class Prepared:
    """One file as far as the reader took it; the indexing thread finishes what is missing."""

    entry: FileEntry
    loaded: object | None = None  # LoadedFile
    load_error: str | None = None  # SkipFile while loading: the file is skipped, named
    extracted: object | None = None  # Extracted
    chunks: list = field(default_factory=list)
    extract_error: str | None = None  # SkipFile while extracting
    cancelled: bool = False  # the user cancelled while this file was being read
    failure: BaseException | None = None  # a bug: re-raised on the indexing thread

    @property
    def needs_extract(self) -> bool:
        return (self.loaded is not None and self.extracted is None and self.extract_error is None
                and not self.cancelled)


_END = object()


class ReadAhead:
    """Iterate over ``prepare(entry)`` for each entry, computed on a worker thread, in order.

    The reader runs ahead by at most ``depth`` files and ``max_bytes`` of file
    size (always at least one file), so a commit batch's worth of small files
    is ready while the previous batch embeds, and a folder of huge files
    still holds only a few in memory.
    """

    def __init__(self, entries: Iterable[FileEntry], prepare: Callable[[FileEntry], Prepared],
                 *, depth: int = READ_AHEAD, max_bytes: int = READ_AHEAD_BYTES) -> None:
        self._entries = entries
        self._prepare = prepare
        self._depth = depth
        self._max_bytes = max_bytes
        self._ready: deque = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="ragdesk-index-reader", daemon=True)

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Prepared]:
        while True:
            with self._cond:
                while not self._ready:
                    self._cond.wait()
                item = self._ready.popleft()
                if item is not _END:
                    self._bytes -= item.entry.size
                self._cond.notify_all()
            if item is _END:
                return
            yield item

    def close(self) -> None:
        """Stop reading (the file in hand is finished first) and wait for the worker."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()

    def _put(self, item) -> bool:
        with self._cond:
            size = 0 if item is _END else item.entry.size
            while not self._stop and self._ready and item is not _END and (
                len(self._ready) >= self._depth or self._bytes + size > self._max_bytes
            ):
                self._cond.wait()
            if self._stop:
                return False
            self._ready.append(item)
            self._bytes += size
            self._cond.notify_all()
            return True

    def _work(self) -> None:
        try:
            for entry in self._entries:
                if self._stop:
                    return
                try:
                    item = self._prepare(entry)
                except BaseException as exc:  # noqa: BLE001 - handed to the indexing thread to raise
                    item = Prepared(entry, failure=exc)
                if not self._put(item) or item.cancelled or item.failure is not None:
                    return
        finally:
            self._put(_END)
