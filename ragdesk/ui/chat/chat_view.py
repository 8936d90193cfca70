"""The conversation: message cards with Markdown answers, streaming, Stop, and the input box.

Streaming is cheap to repaint: pieces arrive already coalesced by the worker,
and the view re-renders the streaming card at most every ``FLUSH_MS``.
``[n]`` markers in answers are links; clicking one shows that chunk in the
citations panel.
"""

from __future__ import annotations

import time

from ragdesk.ui.chat.message_card import MessageCard
from ragdesk.ui.item_models import ChatEntry
from ragdesk.ui.look import icons
from ragdesk.ui.look.style import SPACE, set_look, set_primary
from ragdesk.ui.qt import (
    QFrame,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)

FIRST_RUN_TITLE = "Ask questions about your own documents"
FIRST_RUN_HINT = """
<ol>
<li><b>Add documents:</b> drop folders or files on the Library at the left. They are indexed on
this computer, and searching them works right away, with no language model.</li>
<li><b>Load a language model:</b> the built-in SmolLM2 works offline; get others from the Models button.</li>
<li><b>Ask.</b> Answers cite the passages they use: click a <b>[1]</b> marker to read it in context.</li>
</ol>
"""
FIRST_RUN_FOOTNOTE = "Switch between RAG, merged-LoRA and hybrid answers at the top (Ctrl+1, Ctrl+2, Ctrl+3)."


class ChatInput(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line; grows to a few lines as you type."""

    submitted = Signal(str)
    MIN_LINES = 2  # room for the placeholder, which says what Enter does
    MAX_LINES = 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatInput")
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def _fit(self, *_args) -> None:
        line = self.fontMetrics().lineSpacing()
        lines = min(max(int(self.document().size().height()), self.MIN_LINES), self.MAX_LINES)
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        self.setFixedHeight(int(lines * line + 2 * self.document().documentMargin() + margins + 4))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            text = self.toPlainText()
            if text.strip():
                self.submitted.emit(text)
            event.accept()
            return
        if enter:  # Shift+Enter: a plain new line (not a paragraph separator)
            self.insertPlainText("\n")
            event.accept()
            return
        super().keyPressEvent(event)


class ModelBanner(QFrame):
    """Says a model is needed (or is loading), with a button to get one."""

    loadDefaultRequested = Signal()
    manageModelsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACE["lg"], SPACE["md"], SPACE["lg"], SPACE["md"])
        layout.setSpacing(SPACE["sm"])
        self.message = QLabel(self)
        self.message.setObjectName("modelBannerText")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.setSpacing(SPACE["sm"])
        layout.addLayout(buttons)
        self.load_default = QPushButton("Load default model", self)
        self.load_default.setObjectName("loadDefaultModel")
        set_primary(self.load_default)
        self.load_default.clicked.connect(self.loadDefaultRequested)
        self.manage = QPushButton("Models…", self)
        self.manage.clicked.connect(self.manageModelsRequested)
        buttons.addWidget(self.load_default)
        buttons.addWidget(self.manage)
        buttons.addStretch(1)

    def show_needed(self, default_available: bool) -> None:
        self.message.setText(
            "<b>A language model is needed to answer questions.</b> Indexing and searching your "
            "documents already work without one."
            + ("" if default_available else " No model is installed yet: get one in Models…")
        )
        self.load_default.setVisible(default_available)
        self.load_default.setEnabled(True)
        self.show()

    def show_loading(self, name: str | None) -> None:
        self.message.setText(f"Loading {name or 'the model'}… You can keep working meanwhile.")
        self.load_default.setEnabled(False)
        self.show()


class ChatView(QWidget):
    """The chat page: banner, message cards, input with Send and Stop."""

    submitted = Signal(str)
    stopRequested = Signal()
    citationClicked = Signal(object, int)  # ChatEntry, n
    entrySelected = Signal(object)  # ChatEntry
    loadDefaultRequested = Signal()
    manageModelsRequested = Signal()
    addFolderRequested = Signal()

    FLUSH_MS = 40
    STAGE_TICK_MS = 200

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # the style sheet paints the page
        self.cards: list[MessageCard] = []
        self._selected: MessageCard | None = None
        self._streaming: tuple[int, MessageCard] | None = None
        self._stream_text = ""
        self._stick_to_bottom = True

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.banner = ModelBanner(self)
        self.banner.loadDefaultRequested.connect(self.loadDefaultRequested)
        self.banner.manageModelsRequested.connect(self.manageModelsRequested)
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(SPACE["lg"], SPACE["md"], SPACE["lg"], 0)
        banner_row.addWidget(self.banner)
        layout.addLayout(banner_row)

        self.pages = QStackedWidget(self)
        self.hint = self._empty_state()
        self.pages.addWidget(self.hint)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.container = QWidget(self.scroll)
        self.cards_layout = QVBoxLayout(self.container)
        self.cards_layout.setContentsMargins(SPACE["lg"], SPACE["lg"], SPACE["lg"], SPACE["lg"])
        self.cards_layout.setSpacing(SPACE["md"])
        self.cards_layout.addStretch(1)
        self.scroll.setWidget(self.container)
        self.container.setAutoFillBackground(False)
        self.pages.addWidget(self.scroll)
        layout.addWidget(self.pages, 1)
        bar = self.scroll.verticalScrollBar()
        bar.rangeChanged.connect(self._follow)
        bar.valueChanged.connect(lambda v: setattr(self, "_stick_to_bottom", v >= bar.maximum() - 24))

        # The composer: the input box with Send (or Stop) inside one rounded frame.
        self.composer = QFrame(self)
        self.composer.setObjectName("composer")
        row = QHBoxLayout(self.composer)
        row.setContentsMargins(SPACE["md"], SPACE["sm"], SPACE["sm"], SPACE["sm"])
        row.setSpacing(SPACE["sm"])
        self.input = ChatInput(self)
        self.input.setAcceptDrops(False)  # files dropped here go to the window: they get indexed
        self.input.submitted.connect(self._submit)
        self.input.textChanged.connect(self._update_send)
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolTip("Send (Enter). Shift+Enter starts a new line.")
        self.send_button.clicked.connect(lambda: self._submit(self.input.toPlainText()))
        set_primary(self.send_button)
        icons.set_icon(self.send_button, "send", "on_accent", 16)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stopRequested)
        icons.set_icon(self.stop_button, "stop", "text", 14)
        self.stop_button.hide()
        row.addWidget(self.input, 1)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        composer_row = QHBoxLayout()
        composer_row.setContentsMargins(SPACE["lg"], SPACE["sm"], SPACE["lg"], SPACE["lg"])
        composer_row.addWidget(self.composer)
        layout.addLayout(composer_row)

        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(self.FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._stage: tuple[str, str, float, float] | None = None  # name, detail, elapsed, when it came
        self._stage_timer = QTimer(self)  # the elapsed time of a stage ticks until the next one
        self._stage_timer.setInterval(self.STAGE_TICK_MS)
        self._stage_timer.timeout.connect(self._show_stage)
        self._can_ask = False
        self._busy = False
        self.set_input_state(False, "A language model is needed to answer: load one above.")

    def _empty_state(self) -> QWidget:
        """The first page of an empty conversation: a picture, what ragdesk does, the first steps."""
        scroll = QScrollArea(self)  # a short window scrolls the first steps rather than squeezing them
        scroll.setObjectName("emptyState")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page = QWidget(scroll)
        outer = QHBoxLayout(page)
        outer.setContentsMargins(SPACE["lg"], SPACE["xs"], SPACE["lg"], SPACE["xs"])
        column = QVBoxLayout()
        column.setSpacing(SPACE["sm"] - 2)
        self.illustration = QLabel(page)
        self.illustration.setObjectName("emptyIllustration")
        self.illustration.setAlignment(Qt.AlignmentFlag.AlignCenter)
        icons.set_illustration(self.illustration, 150)
        title = QLabel(FIRST_RUN_TITLE, page)
        title.setObjectName("emptyTitle")
        set_look(title, "title")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setWordWrap(True)
        self.hint_label = QLabel(FIRST_RUN_HINT, page)
        self.hint_label.setObjectName("chatHint")
        self.hint_label.setWordWrap(True)
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        actions = QHBoxLayout()
        actions.setSpacing(SPACE["sm"])
        self.add_folder_button = QPushButton("Add a folder…", page)
        self.add_folder_button.setObjectName("emptyAddFolder")
        set_primary(self.add_folder_button)
        icons.set_icon(self.add_folder_button, "folder", "on_accent", 16)
        self.add_folder_button.clicked.connect(self.addFolderRequested)
        self.choose_model_button = QPushButton("Choose a model…", page)
        self.choose_model_button.setObjectName("emptyChooseModel")
        icons.set_icon(self.choose_model_button, "models", "text", 16)
        self.choose_model_button.clicked.connect(self.manageModelsRequested)
        actions.addStretch(1)
        actions.addWidget(self.add_folder_button)
        actions.addWidget(self.choose_model_button)
        actions.addStretch(1)
        footnote = QLabel(FIRST_RUN_FOOTNOTE, page)
        footnote.setObjectName("emptyFootnote")
        set_look(footnote, "caption")
        footnote.setAlignment(Qt.AlignmentFlag.AlignCenter)
        footnote.setWordWrap(True)
        column.addStretch(2)
        column.addWidget(self.illustration)
        column.addWidget(title)
        column.addWidget(self.hint_label)
        column.addLayout(actions)
        column.addSpacing(SPACE["xs"])
        column.addWidget(footnote)
        column.addStretch(3)
        column.setContentsMargins(0, 0, 0, 0)
        holder = QWidget(page)
        holder.setLayout(column)
        holder.setMaximumWidth(520)
        outer.addStretch(1)
        outer.addWidget(holder, 8)
        outer.addStretch(1)
        scroll.setWidget(page)
        page.setAutoFillBackground(False)  # setWidget turned it on: let the page's colour show through
        return scroll

    # -- input state -------------------------------------------------------

    def set_input_state(self, can_ask: bool, placeholder: str) -> None:
        """Whether a question can be sent now, and what the empty input box says."""
        self._can_ask = can_ask
        self.input.setPlaceholderText(placeholder)
        self.input.setEnabled(can_ask or self._busy)
        self._update_send()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.stop_button.setVisible(busy)
        self.send_button.setVisible(not busy)
        self._update_send()

    def _update_send(self) -> None:
        self.send_button.setEnabled(self._can_ask and not self._busy and bool(self.input.toPlainText().strip()))

    def _submit(self, text: str) -> None:
        if self._can_ask and not self._busy and text.strip():
            self.submitted.emit(text)

    def clear_input(self) -> None:
        self.input.clear()

    # -- messages ----------------------------------------------------------

    def clear(self) -> None:
        """An empty conversation (New chat)."""
        self._flush_timer.stop()
        self._streaming = None
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards.clear()
        self._selected = None
        self.pages.setCurrentWidget(self.hint)

    def show_entries(self, entries: list[ChatEntry]) -> None:
        self.clear()
        for entry in entries:
            self._add(entry)
        self._stick_to_bottom = True

    def _add(self, entry: ChatEntry) -> MessageCard:
        card = MessageCard(entry, self.container)
        card.citationClicked.connect(self.citationClicked)
        card.selected.connect(self._on_selected)
        self.cards_layout.insertWidget(self.cards_layout.count() - 1, card)
        self.cards.append(card)
        self.pages.setCurrentWidget(self.scroll)
        return card

    def begin_answer(self, request_id: int, question: str, mode: str) -> MessageCard:
        """Show the question and an empty answer card that tokens will fill."""
        self._add(ChatEntry("user", question, mode=mode))
        card = self._add(ChatEntry("assistant", "", mode=mode, state="streaming"))
        self._streaming = (request_id, card)
        self._stage = None
        self._stream_text = ""
        self._stick_to_bottom = True
        return card

    def show_stage(self, request_id: int, stage) -> None:
        """Show what the answer is doing (a ragdesk.chat.progress.Stage) and for how long."""
        if self._streaming is None or self._streaming[0] != request_id:
            return
        self._stage = (stage.name, stage.detail, stage.elapsed, time.monotonic())
        self._show_stage()
        if stage.name == "writing":
            self._stage_timer.stop()  # the tokens show the progress now
        elif not self._stage_timer.isActive():
            self._stage_timer.start()

    def _show_stage(self) -> None:
        if self._streaming is None or self._stage is None:
            self._stage_timer.stop()
            return
        name, detail, elapsed, came = self._stage
        if name == "writing":
            text = f"{detail} first token after {elapsed:.1f} s"
        else:
            text = f"{detail} {elapsed + time.monotonic() - came:.1f} s"
        self._streaming[1].set_stage(text)

    def append_tokens(self, request_id: int, text: str) -> None:
        if self._streaming is None or self._streaming[0] != request_id:
            return
        self._stream_text += text
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        if self._streaming is not None:
            self._streaming[1].set_text(self._stream_text)

    def finish_answer(self, request_id: int, entry: ChatEntry) -> MessageCard | None:
        if self._streaming is None or self._streaming[0] != request_id:
            return None
        self._flush_timer.stop()
        card = self._streaming[1]
        self._streaming = None
        card.set_entry(entry)
        self._on_selected(entry)
        return card

    def fail_answer(self, request_id: int, message: str) -> None:
        if self._streaming is None or self._streaming[0] != request_id:
            return
        self._flush_timer.stop()
        card = self._streaming[1]
        self._streaming = None
        card.entry.state = "failed" if message else "stopped"
        card.set_text(self._stream_text or (message or "Stopped before it began."))

    @property
    def streaming_card(self) -> MessageCard | None:
        return self._streaming[1] if self._streaming else None

    def card_for(self, entry: ChatEntry) -> MessageCard | None:
        return next((c for c in self.cards if c.entry is entry), None)

    def _on_selected(self, entry: ChatEntry) -> None:
        if entry.role != "assistant":
            return
        for card in self.cards:
            card.set_selected(card.entry is entry)
        self.entrySelected.emit(entry)

    def restyle(self) -> None:
        """Re-tint every card (the window calls this when the system palette changes)."""
        for card in self.cards:
            card.restyle()

    def _follow(self, _min: int, maximum: int) -> None:
        if self._stick_to_bottom:
            self.scroll.verticalScrollBar().setValue(maximum)
