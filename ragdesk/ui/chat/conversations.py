"""Past conversations: open, rename (F2 or double-click), delete, export to Markdown or JSON."""

from __future__ import annotations

import re

from ragdesk.ui.errors import confirm
from ragdesk.ui.item_models import ID_ROLE, ConversationListModel
from ragdesk.ui.look import icons
from ragdesk.ui.look.style import SPACE, set_look
from ragdesk.ui.qt import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QModelIndex,
    QSizePolicy,
    Qt,
    QTimer,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)


class ConversationsPanel(QWidget):
    """The list of past conversations; choosing one opens it in the chat."""

    conversationChosen = Signal(int)
    newChatRequested = Signal()
    conversationDeleted = Signal(int)

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("conversationsPanel")
        self._current_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACE["md"], SPACE["sm"], SPACE["sm"], SPACE["md"])
        layout.setSpacing(SPACE["sm"])
        head = QHBoxLayout()
        title = QLabel("Conversations", self)
        set_look(title, "sectionTitle")
        head.addWidget(title, 1)
        self.new_button = QToolButton(self)
        self.new_button.setObjectName("newChat")
        self.new_button.setText("New chat")
        self.new_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icons.set_icon(self.new_button, "compose", size=16)
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.newChatRequested)
        head.addWidget(self.new_button)
        layout.addLayout(head)

        self.model = ConversationListModel(rename=controller.rename_conversation, parent=self)
        self.view = QListView(self)
        self.view.setObjectName("conversationList")
        self.view.setModel(self.model)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)
        layout.addWidget(self.view, 1)
        self.empty = QLabel("No conversations yet. Your questions and answers are kept here.", self)
        self.empty.setObjectName("conversationsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout.addWidget(self.empty, 1)
        # Deferred: a rename arrives from inside the list's own editor commit, and several
        # changes in a row (question stored, answer stored) need one refresh.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        controller.conversationsChanged.connect(self._refresh_timer.start)
        self.refresh()

    # -- state -------------------------------------------------------------

    def refresh(self) -> None:
        self.model.set_conversations(self.controller.list_conversations())
        empty = self.model.rowCount() == 0
        self.empty.setVisible(empty)
        self.view.setVisible(not empty)
        self.select(self._current_id)

    def select(self, conversation_id: int | None) -> None:
        """Mark ``conversation_id`` as the open one (no signal)."""
        self._current_id = conversation_id
        row = self.model.row_of(conversation_id) if conversation_id is not None else -1
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row, 0))
        else:
            self.view.clearSelection()
            self.view.setCurrentIndex(QModelIndex())

    def _clicked(self, index: QModelIndex) -> None:
        cid = index.data(ID_ROLE)
        if cid is not None and cid != self._current_id:
            self.conversationChosen.emit(cid)

    # -- actions -----------------------------------------------------------

    def build_context_menu(self, index: QModelIndex) -> QMenu:
        menu = QMenu(self)
        cid = index.data(ID_ROLE) if index.isValid() else None
        if cid is None:
            menu.addAction("New chat", self.newChatRequested.emit)
            return menu
        menu.addAction("Open", lambda: self.conversationChosen.emit(cid))
        menu.addAction("Rename", lambda: self.view.edit(index))
        menu.addSeparator()
        menu.addAction("Export as Markdown…", lambda: self.export_dialog(cid, "markdown"))
        menu.addAction("Export as JSON…", lambda: self.export_dialog(cid, "json"))
        menu.addSeparator()
        menu.addAction("Delete…", lambda: self.ask_delete(cid))
        return menu

    def _context_menu(self, pos) -> None:
        self.build_context_menu(self.view.indexAt(pos)).exec(self.view.viewport().mapToGlobal(pos))

    def export_dialog(self, conversation_id: int, fmt: str) -> None:
        conv = next((c for c in self.controller.list_conversations() if c.id == conversation_id), None)
        stem = re.sub(r"[^\w .-]+", "", conv.title if conv else "conversation").strip()[:60] or "conversation"
        suffix, name = (".json", "JSON (*.json)") if fmt == "json" else (".md", "Markdown (*.md)")
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation", stem + suffix, name)
        if path:
            self.controller.export_conversation(conversation_id, path, fmt)

    def ask_delete(self, conversation_id: int):
        return confirm(
            self,
            "Delete this conversation? Its questions and answers are removed for good.",
            lambda: self.delete(conversation_id),
            yes_text="Delete",
        )

    def delete(self, conversation_id: int) -> None:
        if self.controller.delete_conversation(conversation_id):
            self.conversationDeleted.emit(conversation_id)
