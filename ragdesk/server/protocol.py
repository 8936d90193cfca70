"""The OpenAI wire format, as ragdesk speaks it: messages in, completions and citations out.

Pure functions over plain data (no HTTP, no model), shared by the HTTP server
and the MCP server. ragdesk's additions are extra fields that OpenAI clients
ignore: ``citations`` on a completion (and on the last chunk of a stream),
``answer`` on that last chunk (the final text, see :func:`final_chunk`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import Any

from ragdesk.chat.prompts import Turn
from ragdesk.errors import RagdeskError
from ragdesk.records import Hit

FINISH_REASONS = {"stop": "stop", "length": "length", "cancelled": "stop"}


class MessagesError(RagdeskError, ValueError):
    """Chat messages ragdesk cannot answer (no question last, content of an unknown kind)."""


def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or a list of ``{"type": "text"}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise MessagesError(f"ragdesk answers text only; a message has a part of type {kind!r}")
        return "\n".join(parts)
    raise MessagesError("a message's content must be a string or a list of text parts")


def split_messages(messages: Sequence[dict]) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the earlier exchanges.

    System messages are left out: each mode has its own system prompt (the one
    that asks for ``[n]`` citations). An unanswered user message followed by
    another user message is dropped, as in stored conversations.
    """
    if not messages:
        raise MessagesError("messages is empty: send at least one user message")
    *earlier, last = messages
    if last.get("role") != "user":
        raise MessagesError("the last message must be the user's question")
    question = message_text(last.get("content")).strip()
    if not question:
        raise MessagesError("the last user message is empty")
    turns, pending = [], None
    for m in earlier:
        role, text = m.get("role"), message_text(m.get("content"))
        if role == "user":
            pending = text
        elif role == "assistant" and pending is not None:
            turns.append(Turn(pending, text))
            pending = None
    return question, turns


def citation_json(n: int, hit: Hit, *, inferred: bool = False) -> dict:
    """One cited (or found) chunk: where it is and what it says."""
    return {
        "n": n,
        "file": hit.path,
        "name": PurePath(hit.path).name,
        "page": hit.page,
        "heading": hit.heading,
        "title": hit.title,
        "start": hit.start,
        "end": hit.end,
        "text": hit.text,
        "chunk_id": hit.chunk_id,
        "document_id": hit.document_id,
        "score": hit.score,
        "similarity": hit.similarity,
        "inferred": inferred,
        # The same text in other files (one hit stands for all of them).
        "copies": [{"file": c.path, "page": c.page, "chunk_id": c.chunk_id, "document_id": c.document_id}
                   for c in hit.copies],
    }


def answer_citations(answer) -> list[dict]:
    """The cited chunks of an :class:`~ragdesk.chat.Answer`, numbered as in its text."""
    return [citation_json(n, h, inferred=n in answer.inferred) for n, h in answer.cited]


def search_results(hits: Iterable[Hit]) -> list[dict]:
    return [citation_json(i, h) for i, h in enumerate(hits, start=1)]


def usage(answer) -> dict:
    prompt = int(answer.stats.get("prompt_tokens", 0))
    completion = int(answer.stats.get("completion_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def new_completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def completion(answer, model: str, completion_id: str) -> dict:
    """A whole ``chat.completion`` for ``answer``."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.text},
            "finish_reason": FINISH_REASONS.get(answer.stats.get("stop_reason", "stop"), "stop"),
        }],
        "usage": usage(answer),
        "citations": answer_citations(answer),
    }


def chunk(model: str, completion_id: str, delta: dict, finish_reason: str | None = None) -> dict:
    """One ``chat.completion.chunk`` of a stream."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def final_chunk(answer, model: str, completion_id: str) -> dict:
    """The last chunk: finish reason, usage, citations and ``answer``.

    ``answer`` is the final text: the streamed text with markers pointing at no
    source removed and markers added where a sentence clearly comes from a
    source (``inferred`` in its citation). The citation numbers refer to it.
    """
    data = chunk(model, completion_id, {}, FINISH_REASONS.get(answer.stats.get("stop_reason", "stop"), "stop"))
    data.update(usage=usage(answer), citations=answer_citations(answer), answer=answer.text)
    return data


def encode_vector(vector, encoding_format: str = "float"):
    """An embedding as OpenAI sends it: a list of floats, or base64 of little-endian float32."""
    import base64

    import numpy as np

    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


def error_body(message: str, type_: str = "invalid_request_error", *, param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
