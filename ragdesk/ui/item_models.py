"""Qt item models over core objects, and the plain records the chat views show.

The models only reshape data for views (rows, columns, roles); reading and
writing the database stays in the controller and the core.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ragdesk.records import Copy, Hit
from ragdesk.ui.look import icons
from ragdesk.ui.qt import (
    QAbstractItemModel,
    QAbstractListModel,
    QFont,
    QModelIndex,
    Qt,
)

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
COLLECTION_ROLE = Qt.ItemDataRole.UserRole + 2
PATH_ROLE = Qt.ItemDataRole.UserRole + 3
ID_ROLE = Qt.ItemDataRole.UserRole + 4
SOURCE_ROLE = Qt.ItemDataRole.UserRole + 5


# ---------------------------------------------------------------------------- display helpers


def home_relative(path: str) -> str:
    """``/home/me/docs`` as ``~/docs``."""
    home = str(Path.home())
    return "~" + path[len(home):] if path == home or path.startswith(home + os.sep) else path


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def relative_time(timestamp: float, now: float | None = None) -> str:
    delta = (now or time.time()) - timestamp
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    return time.strftime("%d %b %Y", time.localtime(timestamp))


# ---------------------------------------------------------------------------- chat records


@dataclass
class SourceRef:
    """A chunk shown for an answer: its citation number, whether the answer cited it."""

    n: int | None
    hit: Hit
    cited: bool = False

    @property
    def file_name(self) -> str:
        return PurePath(self.hit.path).name


@dataclass
class ChatEntry:
    """One message as the chat view shows it (a live Answer or a stored Message)."""

    role: str  # "user" | "assistant"
    text: str
    mode: str | None = None
    model: str | None = None
    adapter: str | None = None
    collection: str | None = None
    sources: list[SourceRef] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    message_id: int | None = None
    state: str = "done"  # "streaming" | "done" | "stopped" | "failed"

    def source(self, n: int) -> SourceRef | None:
        return next((s for s in self.sources if s.n == n), None)


def hit_from_json(data: dict) -> Hit:
    return Hit(
        chunk_id=int(data.get("chunk_id", 0)),
        document_id=int(data.get("document_id", 0)),
        path=str(data.get("path", "")),
        page=data.get("page"),
        heading=data.get("heading"),
        start=int(data.get("start") or 0),
        end=int(data.get("end") or 0),
        text=str(data.get("text", "")),
        score=float(data.get("score") or 0.0),
        similarity=data.get("similarity"),
        ocr_confidence=data.get("ocr_confidence"),
        title=data.get("title"),
        copies=tuple(
            Copy(int(c.get("chunk_id", 0)), int(c.get("document_id", 0)), str(c.get("path", "")), c.get("page"))
            for c in data.get("copies") or ()
        ),
    )


def sources_from(retrieved: list[Hit], cited: list[tuple[int, Hit]]) -> list[SourceRef]:
    """Retrieved chunks numbered as the prompt numbered them ([1] is the first), cited ones marked."""
    cited_numbers = {n for n, _ in cited}
    refs = [SourceRef(i, hit, i in cited_numbers) for i, hit in enumerate(retrieved, start=1)]
    known = {r.n for r in refs}
    refs += [SourceRef(n, hit, True) for n, hit in cited if n not in known]
    return refs


def entry_from_answer(answer) -> ChatEntry:
    stopped = answer.stats.get("stop_reason") == "cancelled"
    return ChatEntry(
        role="assistant",
        text=answer.text,
        mode=answer.mode,
        model=answer.model,
        adapter=answer.adapter,
        collection=answer.collection,
        sources=sources_from(answer.retrieved, answer.cited),
        stats=dict(answer.stats),
        message_id=answer.message_id,
        state="stopped" if stopped else "done",
    )


def entry_from_message(message) -> ChatEntry:
    retrieved = [hit_from_json(h) for h in message.retrieved or []]
    cited = [(int(h.get("n", i)), hit_from_json(h)) for i, h in enumerate(message.cited or [], start=1)]
    stats = message.stats or {}
    return ChatEntry(
        role=message.role,
        text=message.content,
        mode=message.mode,
        model=message.model,
        adapter=message.adapter,
        collection=message.collection,
        sources=sources_from(retrieved, cited) if message.role == "assistant" else [],
        stats=stats,
        message_id=message.id,
        state="stopped" if stats.get("stop_reason") == "cancelled" else "done",
    )


# ---------------------------------------------------------------------------- library tree


class _Node:
    __slots__ = (
        "kind", "name", "collection", "path", "documents", "chunks", "size", "parent", "children", "row", "is_dir",
    )

    def __init__(self, kind, name, collection, path=None, documents=0, chunks=0, size=0, parent=None, row=0):
        self.kind, self.name, self.collection, self.path = kind, name, collection, path
        self.documents, self.chunks, self.size = documents, chunks, size
        self.parent, self.children, self.row = parent, [], row
        self.is_dir = bool(path) and os.path.isdir(path)  # once here, not on every repaint


class CollectionTreeModel(QAbstractItemModel):
    """Collections (top level) and the folders/files each was built from, with document counts."""

    HEADERS = ("Collection / folder", "Documents")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._roots: list[_Node] = []

    def set_collections(self, infos, counts: dict[str, dict[str, int]]) -> None:
        """Replace the tree: ``infos`` are CollectionInfo, ``counts[name][source]`` documents per source."""
        self.beginResetModel()
        roots = []
        for row, info in enumerate(infos):
            node = _Node("collection", info.name, info.name, None, info.documents, info.chunks, info.size_bytes, None, row)
            per_source = counts.get(info.name, {})
            for i, source in enumerate(info.sources):
                node.children.append(
                    _Node("source", home_relative(source), info.name, source, per_source.get(source, 0), 0, 0, node, i)
                )
            roots.append(node)
        self._roots = roots
        self.endResetModel()

    def collection_names(self) -> list[str]:
        return [n.name for n in self._roots]

    def collection_index(self, name: str) -> QModelIndex:
        for node in self._roots:
            if node.name == name:
                return self.createIndex(node.row, 0, node)
        return QModelIndex()

    def source_index(self, collection: str, path: str) -> QModelIndex:
        for node in self._roots:
            if node.name == collection:
                for child in node.children:
                    if child.path == path:
                        return self.createIndex(child.row, 0, child)
        return QModelIndex()

    # -- QAbstractItemModel ------------------------------------------------

    def _node(self, index: QModelIndex) -> _Node | None:
        return index.internalPointer() if index.isValid() else None

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        siblings = self._roots if not parent.isValid() else self._node(parent).children
        if 0 <= row < len(siblings) and 0 <= column < len(self.HEADERS):
            return self.createIndex(row, column, siblings[row])
        return QModelIndex()

    def parent(self, index: QModelIndex | None = None):  # noqa: D401 - Qt's overloaded name
        if index is None:
            return super().parent()  # QObject.parent()
        node = self._node(index)
        if node is None or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._roots)
        if parent.column() != 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(self.HEADERS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        node = self._node(index)
        if node is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return node.name if col == 0 else f"{node.documents:,}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if node.kind == "collection":
                return (
                    f"Collection '{node.name}': {plural(node.documents, 'document')}, "
                    f"{plural(node.chunks, 'chunk')}, about {human_size(node.size)}"
                )
            return f"{node.path}\n{plural(node.documents, 'document')} indexed"
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            if node.kind == "collection":
                return icons.icon("collection", "accent", 16)
            return icons.icon("folder" if node.is_dir else "file", "muted", 16)
        if role == Qt.ItemDataRole.FontRole and node.kind == "collection" and col == 0:
            font = QFont()
            font.setBold(True)
            return font
        if role == KIND_ROLE:
            return node.kind
        if role == COLLECTION_ROLE:
            return node.collection
        if role == PATH_ROLE:
            return node.path
        return None


# ---------------------------------------------------------------------------- conversations


class ConversationListModel(QAbstractListModel):
    """Past conversations, newest first; editing a title renames through ``rename(id, title)``."""

    def __init__(self, rename=None, parent=None) -> None:
        super().__init__(parent)
        self._rows = []
        self._rename = rename

    def set_conversations(self, conversations) -> None:
        self.beginResetModel()
        self._rows = list(conversations)
        self.endResetModel()

    def conversation_at(self, row: int):
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, conversation_id: int) -> int:
        return next((i for i, c in enumerate(self._rows) if c.id == conversation_id), -1)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        conv = self.conversation_at(index.row()) if index.isValid() else None
        if conv is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return conv.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{conv.title}\nLast message {relative_time(conv.updated_at)}"
        if role == ID_ROLE:
            return conv.id
        return None

    def flags(self, index: QModelIndex):
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsEditable if index.isValid() and self._rename else base

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        conv = self.conversation_at(index.row()) if index.isValid() else None
        if conv is None or role != Qt.ItemDataRole.EditRole or not self._rename:
            return False
        title = str(value).strip()
        if not title or title == conv.title:
            return False
        return bool(self._rename(conv.id, title))


# ---------------------------------------------------------------------------- sources of an answer


class SourceListModel(QAbstractListModel):
    """The chunks behind one answer (cited first) or one search."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[SourceRef] = []

    def set_sources(self, sources: list[SourceRef]) -> None:
        self.beginResetModel()
        self._rows = sorted(sources, key=lambda s: (not s.cited, s.n if s.n is not None else 0))
        self.endResetModel()

    def sources(self) -> list[SourceRef]:
        return list(self._rows)

    def row_of(self, n: int) -> int:
        return next((i for i, s in enumerate(self._rows) if s.n == n), -1)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        ref = self._rows[index.row()]
        hit = ref.hit
        if role == Qt.ItemDataRole.DisplayRole:
            head = f"[{ref.n}] " if ref.n is not None else ""
            where = f" · p. {hit.page}" if hit.page else ""
            tag = "  ·  cited" if ref.cited else ""
            details = [hit.title] if hit.title else []
            if hit.heading:
                details.append(hit.heading)
            details.append(f"score {hit.score:.3f}")
            if hit.similarity is not None:
                details.append(f"similarity {hit.similarity:.2f}")
            return f"{head}{ref.file_name}{where}{tag}\n{' · '.join(details)}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return hit.path
        if role == Qt.ItemDataRole.FontRole and ref.cited:
            font = QFont()
            font.setBold(True)
            return font
        if role == SOURCE_ROLE:
            return ref
        return None
