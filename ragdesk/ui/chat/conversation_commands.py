"""The conversations half of the AppController: list, open, rename, delete, export.

Cheap reads and writes on the GUI thread's own connection. Kept apart from
the model and chat state for size; it is mixed into
:class:`ragdesk.ui.controller.AppController`, which owns ``conversations``
(a ConversationStore) and declares the signals used here.
"""

from __future__ import annotations

import os
from pathlib import Path

from ragdesk.ui.errors import describe


class ConversationCommands:
    """Conversation commands; failures are reported on ``errorOccurred``, never raised."""


    def list_conversations(self):
        try:
            return self.conversations.list()
        except Exception as exc:  # noqa: BLE001
            self.errorOccurred.emit("Could not read the conversations", describe(exc))
            return []

    def conversation_messages(self, conversation_id: int):
        try:
            return self.conversations.messages(conversation_id)
        except Exception as exc:  # noqa: BLE001
            self.errorOccurred.emit("Could not open the conversation", describe(exc))
            return []

    def rename_conversation(self, conversation_id: int, title: str) -> bool:
        return self._conversation_op("Could not rename the conversation", self.conversations.rename, conversation_id, title)

    def delete_conversation(self, conversation_id: int) -> bool:
        return self._conversation_op("Could not delete the conversation", self.conversations.delete, conversation_id)

    def export_conversation(self, conversation_id: int, path: str | os.PathLike, fmt: str | None = None) -> bool:
        """Write a conversation to ``path`` as Markdown or JSON (by ``fmt`` or the file's suffix)."""
        import json

        path = Path(path)
        fmt = fmt or ("json" if path.suffix.lower() == ".json" else "markdown")
        try:
            if fmt == "json":
                text = json.dumps(self.conversations.export_json(conversation_id), indent=2, ensure_ascii=False)
            else:
                text = self.conversations.export_markdown(conversation_id)
            path.write_text(text, encoding="utf-8")
        except Exception as exc:  # noqa: BLE001
            self.errorOccurred.emit("Could not export the conversation", describe(exc))
            return False
        return True

    def _conversation_op(self, title: str, fn, *args) -> bool:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001
            self.errorOccurred.emit(title, describe(exc))
            return False
        self.conversationsChanged.emit()
        return True
