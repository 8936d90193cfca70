"""Helpers for the UI tests: a window on real workers, real drops, screenshots, opened URLs.

Screenshots go to ``test-artifacts/screenshots/`` at the repository root so a
person can look at the app's main states after a test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.threads import threads_for_tests

from ragdesk.settings import Settings
from ragdesk.ui.qt import (
    QApplication,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QMimeData,
    QObject,
    QPoint,
    QPointF,
    Qt,
    QUrl,
    QWidget,
    Slot,
)

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
WAIT_MS = 60_000  # generous: the first index loads the embedding model (seconds, more on a busy machine)


def save_screenshot(widget: QWidget, name: str) -> Path:
    """Render ``widget`` (as it is now) to ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    QApplication.processEvents()
    path = SCREENSHOTS / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not write {path}"
    return path


def file_drag(paths) -> QMimeData:
    """What a file manager puts in a drag: file URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drop(widget: QWidget, paths, pos: QPoint | None = None) -> bool:
    """Deliver a real drag-enter and drop of ``paths`` to ``widget``; True if the drop was accepted."""
    mime = file_drag(paths)
    pos = pos or widget.rect().center()
    # QDragEnterEvent takes a QPoint (QPointF only from PySide6 6.12); QDropEvent a QPointF.
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(
        QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_settings(**overrides) -> Settings:
    """Small, fast settings for tiny models: one thread, short answers, small chunks."""
    values = dict(
        n_threads=threads_for_tests(1), n_ctx=1024, max_tokens=24, temperature=0.0, top_k=2, chunk_tokens=64, chunk_overlap=8,
        relevance_threshold=0.0,
    )
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # not a test, despite the name


@pytest.fixture
def make_window(qtbot):
    """``make_window(**settings)``: a shown MainWindow on real workers, closed (threads joined) after the test."""
    from ragdesk.ui.main_window import create_main_window

    windows = []

    def make(**overrides):
        settings = test_settings(**overrides)
        settings.save()
        window = create_main_window(settings)
        # For wait_job: the collection re-reads asked for when each job's end reached the GUI.
        window.done_jobs = {}
        window.controller.jobDone.connect(
            lambda job: window.done_jobs.__setitem__(job.id, window.controller.collection_requests)
        )
        qtbot.addWidget(window)
        window.show()
        c = window.controller
        qtbot.waitUntil(
            lambda: c.availability is not None and c.catalog_known and c.collection_infos is not None,
            timeout=WAIT_MS,
        )
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()  # cancels, drains and joins the worker threads


def wait_job(qtbot, window, job, timeout: int = WAIT_MS):
    """Wait until the GUI has handled the end of ``job`` and re-read the collections after it."""
    qtbot.waitUntil(lambda: job.id in window.done_jobs, timeout=timeout)
    # The end of a job asks for a fresh read of the collections: wait for the answer to that
    # request, not for one asked for while the job ran (which can arrive after its end).
    c = window.controller
    qtbot.waitUntil(lambda: c.collections_answer_to > window.done_jobs[job.id], timeout=timeout)
    return job


class _UrlCatcher(QObject):
    """Stands in for the desktop's file opener: Qt hands it what QDesktopServices.openUrl gets."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def window_on_sample_docs(make_window, qtbot, **settings):
    """A window with the bundled sample documents indexed and the built-in SmolLM2 loaded, ready for RAG.

    Skips when the sample documents or the model package are missing.
    """
    from ragdesk.demo import SAMPLE_DOCS

    if not SAMPLE_DOCS.is_dir():
        pytest.skip("no bundled sample documents")
    window = make_window(**settings)
    c = window.controller
    if not c.default_model_available():
        pytest.skip("the built-in SmolLM2 package is not installed")
    qtbot.mouseClick(window.chat.banner.load_default, Qt.MouseButton.LeftButton)
    wait_job(qtbot, window, c.index_paths([SAMPLE_DOCS]))
    qtbot.waitUntil(lambda: c.model_state == "ready" and c.unavailable_reason("rag") is None, timeout=WAIT_MS)
    return window


def urls_opened_by_click(qtbot, button) -> list[QUrl]:
    """Click ``button`` and return the file URLs the app asked the desktop to open."""
    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    return catcher.urls
