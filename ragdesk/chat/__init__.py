"""Chatting with a local model in the three knowledge modes: rag, lora, hybrid."""

from ragdesk.chat.modes import MODES, Mode, ModeError
from ragdesk.chat.session import Answer, ChatSession

__all__ = ["MODES", "Mode", "ModeError", "Answer", "ChatSession"]
