"""Conversations persisted in SQLite, message by message.

Each message is committed as soon as it exists (the question before the model
starts, the answer when it ends), so killing the app between two messages, or
during an answer, loses nothing that was already shown as sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import PurePath

import apsw

from ragdesk import db
from ragdesk.errors import RagdeskError
from ragdesk.records import Hit


class ConversationNotFound(RagdeskError):
    """No conversation with that id."""


@dataclass
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    mode: str | None = None
    model: str | None = None
    adapter: str | None = None
    collection: str | None = None
    retrieved: list[dict] = field(default_factory=list)
    cited: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    created_at: float = 0.0


@dataclass
class Conversation:
    id: int
    title: str
    created_at: float
    updated_at: float


def _hits_json(hits: list[Hit] | None) -> str:
    return json.dumps([h.to_json() for h in hits or []], ensure_ascii=False)


def _cited_json(cited: list[tuple[int, Hit]] | None) -> str:
    """Cited chunks keep the number the answer used for them."""
    return json.dumps([{**h.to_json(), "n": n} for n, h in cited or []], ensure_ascii=False)


class ConversationStore:
    """CRUD over the ``conversations`` and ``messages`` tables."""

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    def create(self, title: str = "New chat") -> Conversation:
        now = time.time()
        with db.transaction(self.conn):
            self.conn.execute(
                "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)", (title, now, now)
            )
            cid = self.conn.last_insert_rowid()
        return Conversation(cid, title, now, now)

    def get(self, conversation_id: int) -> Conversation:
        row = self.conn.execute(
            "SELECT id, title, created_at, updated_at FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise ConversationNotFound(f"no conversation with id {conversation_id}")
        return Conversation(*row)

    def list(self) -> list[Conversation]:
        return [
            Conversation(*r)
            for r in self.conn.execute(
                "SELECT id, title, created_at, updated_at FROM conversations ORDER BY updated_at DESC, id DESC"
            )
        ]

    def rename(self, conversation_id: int, title: str) -> None:
        self.get(conversation_id)
        with db.transaction(self.conn):
            self.conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title.strip() or "Untitled", conversation_id))

    def delete(self, conversation_id: int) -> None:
        self.get(conversation_id)
        with db.transaction(self.conn):
            self.conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        mode: str | None = None,
        model: str | None = None,
        adapter: str | None = None,
        collection: str | None = None,
        retrieved: list[Hit] | None = None,
        cited: list[tuple[int, Hit]] | None = None,
        stats: dict | None = None,
    ) -> int:
        """Append and commit one message; returns its id."""
        now = time.time()
        with db.transaction(self.conn):
            self.conn.execute(
                "INSERT INTO messages (conversation_id, role, content, mode, model, adapter, collection,"
                " retrieved, cited, stats, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id, role, content, mode, model, adapter, collection,
                    _hits_json(retrieved), _cited_json(cited), json.dumps(stats or {}), now,
                ),
            )
            mid = self.conn.last_insert_rowid()
            self.conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        return mid

    def messages(self, conversation_id: int) -> list[Message]:
        out = []
        for r in db.rows(
            self.conn,
            "SELECT id, conversation_id, role, content, mode, model, adapter, collection, retrieved, cited,"
            " stats, created_at FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ):
            for key in ("retrieved", "cited", "stats"):
                r[key] = json.loads(r[key])
            out.append(Message(**r))
        return out

    # -- export ------------------------------------------------------------

    def export_json(self, conversation_id: int) -> dict:
        conv = self.get(conversation_id)
        return {
            "id": conv.id,
            "title": conv.title,
            "created_at": conv.created_at,
            "updated_at": conv.updated_at,
            "messages": [m.__dict__ for m in self.messages(conversation_id)],
        }

    def export_markdown(self, conversation_id: int) -> str:
        conv = self.get(conversation_id)
        lines = [f"# {conv.title}", ""]
        for m in self.messages(conversation_id):
            if m.role == "user":
                lines += [f"**You:** {m.content}", ""]
            elif m.role == "assistant":
                meta = ", ".join(x for x in (m.mode, m.model, m.adapter and f"adapter {m.adapter}") if x)
                lines += [f"**Assistant** ({meta}):", "", m.content, ""]
                for n, hit in enumerate(m.cited, start=1):
                    where = PurePath(hit["path"]).name + (f", p. {hit['page']}" if hit.get("page") else "")
                    lines.append(f"> [{hit.get('n', n)}] {where}: {' '.join(hit['text'].split())[:200]}")
                if m.cited:
                    lines.append("")
        return "\n".join(lines).rstrip() + "\n"
