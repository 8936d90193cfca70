"""The Library side panel: collections and their folders, drag and drop, running jobs.

Dropping folders or files onto a collection indexes them into it (anywhere else:
into the current collection). Each run shows files, chunks, rate and ETA with a
Cancel button, then a summary with the list of skipped files and why.
"""

from __future__ import annotations

import os

from ragdesk.ui.errors import confirm
from ragdesk.ui.item_models import COLLECTION_ROLE, KIND_ROLE, PATH_ROLE, CollectionTreeModel
from ragdesk.ui.library.jobs import JobWidget
from ragdesk.ui.library.live_sync_panel import LiveSyncPanel
from ragdesk.ui.look import icons
from ragdesk.ui.look.style import SPACE, set_look
from ragdesk.ui.qt import (
    QAbstractItemView,
    QDesktopServices,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMimeData,
    QModelIndex,
    QPushButton,
    QStackedWidget,
    Qt,
    QToolButton,
    QTreeView,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
)

MAX_FINISHED_JOBS = 3  # finished job summaries kept in view


def local_paths(mime: QMimeData | None) -> list[str]:
    """Local files and folders carried by a drag (URLs from the file manager)."""
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class CollectionTree(QTreeView):
    """The collections tree; a drop onto a row indexes into that row's collection."""

    pathsDropped = Signal(list, object)  # paths, collection (None: the current one)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)

    def dragEnterEvent(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if not local_paths(event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()
        index = self.indexAt(event.position().toPoint())
        if index.isValid():
            self.setCurrentIndex(index.siblingAtColumn(0))

    def dropEvent(self, event) -> None:
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        index = self.indexAt(event.position().toPoint())
        collection = index.data(COLLECTION_ROLE) if index.isValid() else None
        event.acceptProposedAction()
        self.pathsDropped.emit(paths, collection)


class LibraryPanel(QWidget):
    """Collections, search, drop target and running jobs."""

    searchRequested = Signal(str)

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("libraryPanel")
        self.setAcceptDrops(True)
        self.job_widgets: dict[int, JobWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACE["md"], SPACE["md"], SPACE["sm"], SPACE["sm"])
        layout.setSpacing(SPACE["sm"])

        head = QHBoxLayout()
        title = QLabel("Library", self)
        set_look(title, "sectionTitle")
        head.addWidget(title, 1)
        self.add_button = QToolButton(self)
        self.add_button.setObjectName("addToLibrary")
        self.add_button.setText("Add…")
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icons.set_icon(self.add_button, "plus", size=16)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        menu.addAction("Add folder…", self.add_folder_dialog)
        menu.addAction("Add files…", self.add_files_dialog)
        menu.addSeparator()
        menu.addAction("New collection…", self.new_collection_dialog)
        self.add_button.setMenu(menu)
        head.addWidget(self.add_button)
        layout.addLayout(head)

        self.search = QLineEdit(self)
        self.search.setObjectName("librarySearch")
        self.search.setPlaceholderText("Search your documents…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Search the current collection; works without a language model")
        self.search.returnPressed.connect(lambda: self.searchRequested.emit(self.search.text()))
        layout.addWidget(self.search)

        self.pages = QStackedWidget(self)
        self.hint = QWidget(self)
        hint_layout = QVBoxLayout(self.hint)
        hint_layout.addStretch(1)
        self.hint_label = QLabel(
            "<p align='center'><b>Drop folders or files here</b><br>to add them to your library.</p>"
            "<p align='center'>PDF, Word, HTML, Markdown, text and code are indexed on this computer; "
            "nothing leaves it.</p>",
            self.hint,
        )
        self.hint_label.setObjectName("libraryHint")
        self.hint_label.setWordWrap(True)
        hint_layout.addWidget(self.hint_label)
        add_folder = QPushButton("Add folder…", self.hint)
        icons.set_icon(add_folder, "folder", "text", 16)
        add_folder.clicked.connect(self.add_folder_dialog)
        hint_layout.addWidget(add_folder, 0, Qt.AlignmentFlag.AlignHCenter)
        hint_layout.addStretch(2)
        self.pages.addWidget(self.hint)

        self.model = CollectionTreeModel(self)
        self.tree = CollectionTree(self)
        self.tree.setObjectName("collectionTree")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the folder's own name in view
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.pathsDropped.connect(self._dropped)
        self.tree.clicked.connect(self._clicked)
        self.pages.addWidget(self.tree)
        layout.addWidget(self.pages, 1)
        self.live_sync = LiveSyncPanel(controller.live_sync, self)
        layout.addWidget(self.live_sync)

        # Running and recent jobs, under the tree (the layout sizes them, wrapped text included).
        self.jobs_area = QWidget(self)
        self.jobs_area.setObjectName("jobsArea")
        self.jobs_layout = QVBoxLayout(self.jobs_area)
        self.jobs_layout.setContentsMargins(0, 0, 0, 0)
        self.jobs_area.hide()
        layout.addWidget(self.jobs_area)

        c = controller
        c.collectionsChanged.connect(self.refresh)
        c.collectionChanged.connect(lambda _name: self._select_current())
        c.jobAdded.connect(self._job_added)
        c.jobProgress.connect(self._job_progress)
        c.jobDone.connect(self._job_done)
        self.refresh()

    # -- tree --------------------------------------------------------------

    def refresh(self) -> None:
        # Keep what the user collapsed and selected across the periodic refreshes of a run.
        collapsed = {
            name for name in self.model.collection_names()
            if not self.tree.isExpanded(self.model.collection_index(name))
        }
        current = self.tree.currentIndex()
        selected = (current.data(COLLECTION_ROLE), current.data(PATH_ROLE)) if current.isValid() else None
        self.model.set_collections(self.controller.collections(), self.controller.source_counts)
        for name in self.model.collection_names():
            self.tree.setExpanded(self.model.collection_index(name), name not in collapsed)
        # Until the first read, show the (empty) tree rather than flash the first-run hint.
        known = self.controller.collection_infos is not None
        self.pages.setCurrentWidget(self.hint if known and not self.model.collection_names() else self.tree)
        if selected and selected[1] and self.model.source_index(*selected).isValid():
            self.tree.setCurrentIndex(self.model.source_index(*selected))
        else:
            self._select_current()

    def _select_current(self) -> None:
        index = self.model.collection_index(self.controller.collection)
        if index.isValid():
            self.tree.setCurrentIndex(index)

    def _clicked(self, index: QModelIndex) -> None:
        name = index.data(COLLECTION_ROLE)
        if name:
            self.controller.set_collection(name)

    def _dropped(self, paths: list[str], collection: str | None) -> None:
        self.index_paths(paths, collection)

    def index_paths(self, paths: list[str], collection: str | None = None):
        if collection:
            self.controller.set_collection(collection)
        return self.controller.index_paths(paths, collection)

    # -- drops onto the panel outside the tree --------------------------------

    def dragEnterEvent(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.index_paths(paths)
        else:
            event.ignore()

    # -- context menu --------------------------------------------------------

    def build_context_menu(self, index: QModelIndex) -> QMenu:
        menu = QMenu(self)
        kind = index.data(KIND_ROLE) if index.isValid() else None
        collection = index.data(COLLECTION_ROLE) if index.isValid() else None
        c = self.controller
        if kind == "collection":
            menu.addAction("Re-sync", lambda: c.resync(collection)).setObjectName("resyncCollection")
            menu.addAction("Add folder…", lambda: self.add_folder_dialog(collection))
            windows = menu.addAction("Sentence-level search")
            windows.setObjectName("sentenceWindows")
            windows.setCheckable(True)
            windows.setChecked(c.has_sentence_windows(collection))
            windows.setToolTip(
                "Also embed every two consecutive sentences of each document: a question about one sentence"
                " finds its passage more often. Indexing takes 2.2 to 2.5 times as long."
            )
            windows.toggled.connect(lambda on: c.set_sentence_windows(collection, on))
            menu.setToolTipsVisible(True)
            menu.addSeparator()
            menu.addAction("Delete collection…", lambda: self.ask_delete_collection(collection))
        elif kind == "source":
            path = index.data(PATH_ROLE)
            menu.addAction("Re-sync", lambda: c.resync(collection, path)).setObjectName("resyncSource")
            menu.addAction("Forget…", lambda: self.ask_forget(path, collection)).setObjectName("forgetSource")
            folder = path if os.path.isdir(path) else os.path.dirname(path)
            menu.addAction("Show in file manager", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(folder)))
        else:
            menu.addAction("Add folder…", self.add_folder_dialog)
            menu.addAction("New collection…", self.new_collection_dialog)
        return menu

    def _context_menu(self, pos) -> None:
        self.build_context_menu(self.tree.indexAt(pos)).exec(self.tree.viewport().mapToGlobal(pos))

    def ask_forget(self, path: str, collection: str):
        return confirm(
            self,
            f"Forget {path} in '{collection}'? Its documents leave the library (the files stay on disk).",
            lambda: self.controller.forget([path], collection),
            yes_text="Forget",
        )

    def ask_delete_collection(self, collection: str):
        return confirm(
            self,
            f"Delete the collection '{collection}' and everything indexed in it? Your files stay on disk.",
            lambda: self.controller.delete_collection(collection),
            yes_text="Delete",
        )

    def add_folder_dialog(self, collection: str | None = None) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to the library")
        if folder:
            self.index_paths([folder], collection or None)

    def add_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add files to the library")
        if files:
            self.index_paths(files)

    def new_collection_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name of the new collection:")
        if ok and name.strip():
            self.controller.create_collection(name.strip())

    # -- jobs ----------------------------------------------------------------

    def _job_added(self, job) -> None:
        widget = JobWidget(job, self.controller, self)
        widget.dismissed.connect(self._dismiss)
        self.job_widgets[job.id] = widget
        self.jobs_layout.addWidget(widget)
        self._fit_jobs()

    def _job_progress(self, job, progress) -> None:
        widget = self.job_widgets.get(job.id)
        if widget is not None:
            widget.update_progress(progress)

    def _job_done(self, job) -> None:
        widget = self.job_widgets.get(job.id)
        if widget is None:
            return
        quiet = job.state == "done" and job.kind in ("create", "delete", "forget")
        if quiet:  # nothing to read in the summary: the tree shows the result
            self._dismiss(widget)
            return
        widget.finish()
        finished = [w for w in self.job_widgets.values() if w.job.finished]
        for old in finished[:-MAX_FINISHED_JOBS]:
            self._dismiss(old)
        self._fit_jobs()

    def _dismiss(self, widget: JobWidget) -> None:
        self.job_widgets.pop(widget.job.id, None)
        widget.setParent(None)
        widget.deleteLater()
        self._fit_jobs()

    def _fit_jobs(self) -> None:
        self.jobs_area.setVisible(bool(self.job_widgets))
