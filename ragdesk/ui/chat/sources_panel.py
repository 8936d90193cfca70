"""The sources panel: the cited and retrieved chunks of the selected answer (or of a search).

Selecting a chunk shows it highlighted inside its surrounding document text
(the store's extracted text, which the chunk's offsets point into), with
"Open source" to open the file itself, at the page where the viewer allows.
A chunk of a PDF is shown on its page instead, as a picture with the passage
highlighted where it is printed (``page_view``); "Text" switches back.
"""

from __future__ import annotations

import html
from pathlib import PurePath

from ragdesk.chat.modes import MODES
from ragdesk.ui.chat.page_view import PageViewer
from ragdesk.ui.item_models import SOURCE_ROLE, ChatEntry, SourceListModel, SourceRef
from ragdesk.ui.look import icons, theme
from ragdesk.ui.look.style import SPACE
from ragdesk.ui.qt import (
    QAbstractItemView,
    QDesktopServices,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    Qt,
    QTextBrowser,
    QTextCharFormat,
    QTextCursor,
    QUrl,
    QVBoxLayout,
    QWidget,
)

CONTEXT_CHARS = 1500  # document text shown on each side of the chunk


def source_url(path: str, page: int | None) -> QUrl:
    """A file URL for the source; PDFs get a ``#page=N`` fragment that many viewers honour."""
    url = QUrl.fromLocalFile(path)
    if page and PurePath(path).suffix.lower() == ".pdf":
        url.setFragment(f"page={int(page)}")
    return url


class CitationsPanel(QWidget):
    """A list of chunks and the selected one in context."""

    def __init__(self, document_text, parent: QWidget | None = None) -> None:
        """``document_text(document_id) -> str | None`` reads a document's extracted text."""
        super().__init__(parent)
        self.setObjectName("citationsPanel")
        self._document_text = document_text
        self._entry: ChatEntry | None = None
        self._current: SourceRef | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACE["sm"], SPACE["md"], SPACE["md"], SPACE["sm"])
        layout.setSpacing(SPACE["sm"])
        self.title = QLabel("<b>Sources</b>", self)
        self.title.setObjectName("citationsTitle")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.empty = QLabel(
            "Select an answer to see the passages it was given and the ones it cited. "
            "Click a [1] marker to jump to that passage.",
            self,
        )
        self.empty.setObjectName("citationsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout.addWidget(self.empty, 1)

        self.split = QSplitter(Qt.Orientation.Vertical, self)
        self.split.setObjectName("citationsSplitter")
        self.model = SourceListModel(self)
        self.list = QListView(self.split)
        self.list.setObjectName("sourceList")
        self.list.setModel(self.model)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.selectionModel().currentChanged.connect(lambda cur, _prev: self._show(cur.data(SOURCE_ROLE)))
        box = QWidget(self.split)
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.where = QLabel(box)
        self.where.setObjectName("sourceWhere")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open source", box)
        self.open_button.setObjectName("openSource")
        icons.set_icon(self.open_button, "open", "text", 14)
        self.open_button.clicked.connect(self.open_current)
        self.view_button = QPushButton("Text", box)
        self.view_button.setObjectName("pageOrText")
        self.view_button.setToolTip("Switch between the page as printed and the extracted text")
        self.view_button.clicked.connect(self._toggle_view)
        head.addWidget(self.where, 1)
        head.addWidget(self.view_button)
        head.addWidget(self.open_button)
        box_layout.addLayout(head)
        self.views = QStackedWidget(box)
        self.context = QTextBrowser(self.views)
        self.context.setObjectName("sourceContext")
        self.context.setOpenLinks(False)
        self.page_viewer = PageViewer(self.views)
        self.views.addWidget(self.context)
        self.views.addWidget(self.page_viewer)
        self._prefer_text = False  # the user chose the text view for PDFs
        box_layout.addWidget(self.views, 1)
        self.split.addWidget(self.list)
        self.split.addWidget(box)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 2)
        layout.addWidget(self.split, 1)
        self.clear()

    # -- what to show ------------------------------------------------------

    def clear(self) -> None:
        self._entry = None
        self.model.set_sources([])
        self.title.setText("<b>Sources</b>")
        self.empty.show()
        self.split.hide()
        self._show(None)

    def show_entry(self, entry: ChatEntry, n: int | None = None) -> None:
        """The sources of an answer; with ``n``, select the chunk cited as ``[n]``."""
        if entry is not self._entry:
            self._entry = entry
            self.model.set_sources(entry.sources)
            cited = sum(1 for s in entry.sources if s.cited)
            if entry.sources:
                self.title.setText(
                    f"<b>Sources of the selected answer</b><br>{cited} cited, {len(entry.sources)} retrieved"
                )
            elif entry.mode in MODES and not MODES[entry.mode].retrieval:
                self.title.setText("<b>Sources</b><br>This answer did not use retrieval.")
            else:
                self.title.setText("<b>Sources</b><br>No passage was relevant enough to give to the model.")
        has = bool(entry.sources)
        self.empty.setVisible(not has)
        self.empty.setText("" if has else "Nothing to show for this answer.")
        self.split.setVisible(has)
        row = self.model.row_of(n) if n is not None else (0 if has else -1)
        self.select_row(row)

    def show_search(self, query: str, hits) -> None:
        """Results of a library search (no model involved)."""
        self._entry = None
        refs = [SourceRef(i, h, False) for i, h in enumerate(hits, start=1)]
        self.model.set_sources(refs)
        self.title.setText(f"<b>Search results</b><br>{len(hits)} for “{query}”")
        self.empty.setVisible(not hits)
        self.empty.setText("Nothing in this collection matches." if not hits else "")
        self.split.setVisible(bool(hits))
        self.select_row(0 if hits else -1)

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            index = self.model.index(row, 0)
            self.list.setCurrentIndex(index)
            self.list.scrollTo(index)
            self._show(index.data(SOURCE_ROLE))
        else:
            self._show(None)

    @property
    def current(self) -> SourceRef | None:
        return self._current

    # -- the selected chunk in context ---------------------------------------

    def _show(self, ref: SourceRef | None) -> None:
        self._current = ref
        self.open_button.setEnabled(ref is not None)
        if ref is None:
            self.where.clear()
            self.context.clear()
            self.view_button.hide()
            self.views.setCurrentWidget(self.context)
            return
        hit = ref.hit
        bits = [f"<b>{_escape(ref.file_name)}</b>"]
        if hit.title:
            bits.append(f"<i>{_escape(hit.title)}</i>")
        if hit.page:
            slides = PurePath(hit.path).suffix.lower() == ".pptx"
            bits.append(f"{'slide' if slides else 'page'} {hit.page}")
        if hit.heading:
            bits.append(_escape(hit.heading))
        bits.append(f"score {hit.score:.3f}")
        if hit.similarity is not None:
            bits.append(f"similarity {hit.similarity:.2f}")
        if hit.ocr_confidence is not None:
            bits.append(f"read by OCR, {hit.ocr_confidence:.0%} confidence")
        if hit.copies:  # the same text in other files took no slot of its own
            bits.append(_escape(hit.copies_line()))
        self.where.setText(" · ".join(bits))
        self.where.setToolTip("\n".join([hit.path, *(c.where() for c in hit.copies)]))
        self.open_button.setToolTip(
            f"Open {hit.path}" + (f" (the passage is on page {hit.page})" if hit.page else "")
        )
        self._render_context(ref)
        on_page = is_pdf_page(hit)
        self.view_button.setVisible(on_page)
        if on_page:
            color = theme.highlight_background(theme.app_palette())
            self.page_viewer.show_passage(hit.path, int(hit.page), hit.text, color)
        self._apply_view()

    def _toggle_view(self) -> None:
        self._prefer_text = self.views.currentWidget() is self.page_viewer
        self._apply_view()

    def _apply_view(self) -> None:
        on_page = self._current is not None and is_pdf_page(self._current.hit) and not self._prefer_text
        self.views.setCurrentWidget(self.page_viewer if on_page else self.context)
        self.view_button.setText("Text" if on_page else "Page")

    def shutdown(self) -> None:
        """Stop the page renderer's thread (the window is closing)."""
        self.page_viewer.shutdown()

    def _render_context(self, ref: SourceRef) -> None:
        hit = ref.hit
        text = self._document_text(hit.document_id)
        if text and 0 <= hit.start < hit.end <= len(text):
            lo, hi = max(0, hit.start - CONTEXT_CHARS), min(len(text), hit.end + CONTEXT_CHARS)
            before, passage, after = text[lo : hit.start], text[hit.start : hit.end], text[hit.end : hi]
            before = ("…" if lo > 0 else "") + before
            after = after + ("…" if hi < len(text) else "")
        else:  # the document was re-indexed or removed since: show the chunk alone
            before, passage, after = "", hit.text, ""
        pal = theme.app_palette()
        muted, plain, marked = QTextCharFormat(), QTextCharFormat(), QTextCharFormat()
        muted.setForeground(theme.muted_text(pal))
        plain.setForeground(pal.color(pal.ColorRole.Text))
        marked.setForeground(pal.color(pal.ColorRole.Text))
        marked.setBackground(theme.highlight_background(pal))
        self.context.clear()
        cursor = QTextCursor(self.context.document())
        cursor.insertText(before, muted)
        start = cursor.position()
        cursor.insertText(passage, marked)
        end = cursor.position()
        cursor.insertText(after, muted)
        self._passage_range = (start, end)
        # Scroll so the passage starts a fifth of the way down, with a little context above it.
        at = QTextCursor(self.context.document())
        at.setPosition(start)
        self.context.setTextCursor(at)
        bar = self.context.verticalScrollBar()
        top = self.context.cursorRect(at).top() + bar.value()
        bar.setValue(max(0, top - self.context.viewport().height() // 5))

    def highlighted_passage(self) -> str:
        """The text currently highlighted in the context view (for tests and accessibility)."""
        start, end = getattr(self, "_passage_range", (0, 0))
        cursor = QTextCursor(self.context.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText().replace("\u2029", "\n")

    def open_current(self) -> None:
        if self._current is not None:
            hit = self._current.hit
            QDesktopServices.openUrl(source_url(hit.path, hit.page))

    def restyle(self) -> None:
        """Re-tint the highlighted passage after the system palette changed."""
        if self._current is not None:
            self._render_context(self._current)


def is_pdf_page(hit) -> bool:
    """Whether a hit can be shown on its printed page (a PDF chunk with a page number)."""
    return bool(hit.page) and PurePath(hit.path).suffix.lower() == ".pdf"


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
