"""A cited PDF page as a picture, the passage highlighted on it, with page navigation.

Rendering (PDFium) and, for scanned pages, OCR take from a tenth of a second
to a few seconds, so they run on a worker thread; results come back by
signal and a stale one (the user clicked on) is dropped. Rendered pages are
cached, so paging back and forth is instant.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass

from ragdesk.ui.qt import (
    QColor,
    QHBoxLayout,
    QImage,
    QLabel,
    QObject,
    QPainter,
    QPixmap,
    QPushButton,
    QRectF,
    QScrollArea,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
    Slot,
)
from ragdesk.ui.workers.qthreads import WorkerThread, close_then_quit

log = logging.getLogger(__name__)
CACHE_PAGES = 24


@dataclass(frozen=True)
class PageRequest:
    """One page to show: ``passage`` is highlighted where found (only on its own page)."""

    serial: int
    path: str
    page: int
    passage: str | None
    color: QColor


@dataclass
class RenderedPage:
    request: PageRequest
    image: QImage
    page: int
    pages: int
    boxes: list  # highlight rectangles in image pixels
    by_ocr: bool


class PageWorker(QObject):
    """Renders pages off the GUI thread (PDFium and OCR calls are slow and blocking)."""

    rendered = Signal(object)  # RenderedPage
    failed = Signal(object, str)  # PageRequest, reason

    def __init__(self) -> None:
        super().__init__()
        self._cache: OrderedDict[tuple, RenderedPage] = OrderedDict()

    @Slot()
    def start(self) -> None:
        """Nothing to open: PDFium loads on the first page."""

    def close(self) -> None:
        """Drop the cached pages (runs in the worker's thread, at shutdown)."""
        self._cache.clear()

    @Slot()
    def shutdown(self) -> None:
        close_then_quit(self)

    @Slot(object)
    def render(self, request: PageRequest) -> None:
        try:
            key = (request.path, os.stat(request.path).st_mtime_ns, request.page, request.passage)
        except OSError:
            self.failed.emit(request, "The file is no longer there.")
            return
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = self._render(request)
            except Exception as exc:  # noqa: BLE001 - a bad page must not kill the viewer
                log.warning("could not render page %s of %s", request.page, request.path, exc_info=True)
                self.failed.emit(request, f"This page could not be shown: {' '.join(str(exc).split())[:150]}")
                return
            self._cache[key] = cached
            while len(self._cache) > CACHE_PAGES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        self.rendered.emit(RenderedPage(request, cached.image, cached.page, cached.pages, cached.boxes, cached.by_ocr))

    def _render(self, request: PageRequest) -> RenderedPage:
        from ragdesk.page_locate import render_cited_page

        view = render_cited_page(request.path, request.page, request.passage)
        rgb = view.image.convert("RGB")
        data = rgb.tobytes()
        image = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()
        if view.boxes:
            painter = QPainter(image)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
            for x0, y0, x1, y1 in view.boxes:
                painter.fillRect(QRectF(x0 - 2, y0 - 1, x1 - x0 + 4, y1 - y0 + 2), request.color)
            painter.end()
        return RenderedPage(request, image, view.page, view.pages, view.boxes, view.by_ocr)


class PageViewer(QWidget):
    """Shows one page of a PDF, highlights a passage on its own page, pages back and forth."""

    requested = Signal(object)  # PageRequest, to the worker
    pageShown = Signal(int)  # the page now on screen (for tests and accessibility)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pageViewer")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous", self)
        self.prev_button.setObjectName("previousPage")
        self.prev_button.clicked.connect(lambda: self.go(-1))
        self.next_button = QPushButton("Next ▶", self)
        self.next_button.setObjectName("nextPage")
        self.next_button.clicked.connect(lambda: self.go(1))
        self.status = QLabel(self)
        self.status.setObjectName("pageStatus")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bar.addWidget(self.prev_button)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.next_button)
        layout.addLayout(bar)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # pages are fitted to the width
        self.picture = QLabel(self.scroll)
        self.picture.setObjectName("pageImage")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.scroll.setWidget(self.picture)
        layout.addWidget(self.scroll, 1)
        self._serial = 0
        self._path: str | None = None
        self._cited_page = 0
        self._passage: str | None = None
        self._color = QColor(255, 214, 0)
        self.page = 0
        self.pages = 0
        self.shown: RenderedPage | None = None
        self._thread: WorkerThread | None = None

    # -- requests ------------------------------------------------------------

    def show_passage(self, path: str, page: int, passage: str | None, color: QColor | None = None) -> None:
        """Show ``page`` of ``path`` with ``passage`` highlighted on it."""
        self._path, self._cited_page, self._passage = path, page, passage
        if color is not None:
            self._color = color
        self._request(page)

    def go(self, delta: int) -> None:
        """Previous (-1) or next (+1) page; the highlight shows again on the cited page."""
        if self._path is None:
            return
        target = self.page + delta
        if 1 <= target <= max(self.pages, 1):
            self._request(target)

    def _request(self, page: int) -> None:
        self._serial += 1
        self.page = page
        self.status.setText(f"Page {page}" + (f" of {self.pages}" if self.pages else "") + " · rendering…")
        self._buttons()
        passage = self._passage if page == self._cited_page else None
        self._ensure_worker()
        self.requested.emit(PageRequest(self._serial, self._path, page, passage, self._color))

    def _ensure_worker(self) -> None:
        if self._thread is None:
            worker = PageWorker()
            self._thread = WorkerThread(worker, "ragdesk-pages")
            self.requested.connect(worker.render)
            worker.rendered.connect(self._rendered)
            worker.failed.connect(self._failed)
            self._thread.start()

    def shutdown(self, timeout_ms: int = 20_000) -> None:
        """Stop the render thread (after the page it is on)."""
        if self._thread is not None:
            self._thread.stop(timeout_ms)
            self._thread = None

    # -- results ---------------------------------------------------------------

    def _rendered(self, result: RenderedPage) -> None:
        if result.request.serial != self._serial:
            return  # the user moved on
        self.shown = result
        self.page, self.pages = result.page, result.pages
        text = f"Page {result.page} of {result.pages}"
        if result.request.passage:
            text += " · passage highlighted" if result.boxes else " · the passage was not found on this page"
        self.status.setText(text)
        self._buttons()
        self._fit()
        if result.boxes:  # bring the highlight into view
            scale = self._scale()
            self.scroll.verticalScrollBar().setValue(max(0, int(result.boxes[0][1] * scale) - 40))
        self.pageShown.emit(result.page)

    def _failed(self, request: PageRequest, reason: str) -> None:
        if request.serial == self._serial:
            self.shown = None
            self.picture.clear()
            self.status.setText(reason)

    def _buttons(self) -> None:
        self.prev_button.setEnabled(self.page > 1)
        self.next_button.setEnabled(self.pages == 0 or self.page < self.pages)

    def _scale(self) -> float:
        if self.shown is None or self.shown.image.width() == 0:
            return 1.0
        width = max(200, self.scroll.viewport().width() - 4)
        return min(1.5, width / self.shown.image.width())

    def _fit(self) -> None:
        if self.shown is not None:
            scale = self._scale()
            pixmap = QPixmap.fromImage(self.shown.image)
            self.picture.setPixmap(
                pixmap.scaledToWidth(int(self.shown.image.width() * scale), Qt.TransformationMode.SmoothTransformation)
            )

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()
