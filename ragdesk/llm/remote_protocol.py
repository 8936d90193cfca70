"""Talking to an OpenAI-compatible inference server: errors in words, server facts, token counts, streams.

:class:`~ragdesk.llm.remote.RemoteEngine` uses these helpers; nothing here
knows about chat modes. Servers differ in what they reveal beyond the OpenAI
API, so each fact is read from where a server offers it:

==================  ======================================  =============================
server              context size, chat template             token counts
==================  ======================================  =============================
llama.cpp server    ``GET /props``                          ``/tokenize``, ``/apply-template``
vLLM                ``max_model_len`` in ``/v1/models``     ``/tokenize`` (text or messages)
llama-cpp-python    (not told: the setting)                 ``/extras/tokenize`` (text only)
others              (not told: the setting)                 an estimate: bytes / 3
==================  ======================================  =============================

Where only text can be tokenized, a conversation counts as the sum of its
messages plus :data:`MESSAGE_OVERHEAD` tokens each for the template's markup;
the estimate over-counts English (about 4 bytes a token) so that a prompt
measured to fit does fit.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ragdesk.errors import RagdeskError

MESSAGE_OVERHEAD = 10  # tokens a chat template adds around one message, at most, for common templates
ESTIMATE_BYTES_PER_TOKEN = 3


class RemoteEngineError(RagdeskError, RuntimeError):
    """The inference server is down, too slow, refused the request or answered nonsense."""


# ---------------------------------------------------------------------------- errors in words


def unreachable(url: str, exc: BaseException) -> RemoteEngineError:
    reason = str(exc) or type(exc).__name__
    return RemoteEngineError(f"cannot reach the engine at {url} ({reason}): is the server running?")


def too_slow(url: str, seconds: float) -> RemoteEngineError:
    return RemoteEngineError(
        f"the engine at {url} sent nothing for {seconds:g} s: it may be overloaded or stuck "
        "(raise the wait with --engine-timeout)"
    )


def garbage(url: str, what: str, sample: str | bytes) -> RemoteEngineError:
    if isinstance(sample, bytes):
        sample = sample.decode("utf-8", errors="replace")
    sample = " ".join(sample.split())
    sample = sample[:120] + ("…" if len(sample) > 120 else "")
    return RemoteEngineError(
        f"the engine at {url} did not answer like an OpenAI-compatible server ({what}): {sample!r}"
    )


def refused(url: str, status: int, body: bytes) -> RemoteEngineError:
    """A sentence for an HTTP error answer, with the server's own message when it gave one."""
    message = error_message(body)
    if status == 401 or status == 403:
        return RemoteEngineError(
            f"the engine at {url} refused the key ({status}{': ' + message if message else ''}): "
            "check --engine-key or the key in the Models dialog"
        )
    if status == 404:
        return RemoteEngineError(
            f"the engine at {url} does not know what was asked ({status}{': ' + message if message else ''}): "
            "check the model name and the adapter mapping"
        )
    detail = message or body.decode("utf-8", errors="replace").strip()[:200] or "no details"
    return RemoteEngineError(f"the engine at {url} answered {status}: {detail}")


def error_message(body: bytes) -> str:
    """The ``error.message`` (or ``detail``) of an error body, if it has one."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "")
    if isinstance(error, str):
        return error
    detail = data.get("detail")
    return detail if isinstance(detail, str) else (json.dumps(detail)[:200] if detail else "")


# ---------------------------------------------------------------------------- the server's facts


@dataclass
class ServerFacts:
    """What a server told about itself when ragdesk connected."""

    kind: str  # "llama.cpp" | "vllm" | "llama-cpp-python" | "openai-compatible"
    models: list[str]
    n_ctx: int | None = None
    chat_template: str | None = None


def read_facts(get_json: Callable[[str], Any], models_payload: Any) -> ServerFacts:
    """Identify the server from ``/v1/models`` and, for llama.cpp's server, ``/props``.

    ``get_json(path)`` fetches a path relative to the server's root and returns
    the decoded JSON, or None when the server has no such endpoint.
    """
    data = models_payload.get("data") if isinstance(models_payload, dict) else None
    if not isinstance(data, list):
        raise ValueError("no model list")
    models = [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
    max_len = next((m.get("max_model_len") for m in data if isinstance(m, dict) and m.get("max_model_len")), None)
    if max_len:
        return ServerFacts("vllm", models, n_ctx=int(max_len))
    props = get_json("/props")
    if isinstance(props, dict) and ("default_generation_settings" in props or "n_ctx" in props):
        settings = props.get("default_generation_settings") or {}
        n_ctx = props.get("n_ctx") or settings.get("n_ctx")
        return ServerFacts("llama.cpp", models, n_ctx=int(n_ctx) if n_ctx else None,
                           chat_template=props.get("chat_template") or None)
    owned = {m.get("owned_by") for m in data if isinstance(m, dict)}
    if owned == {"me"}:  # what llama-cpp-python's server writes for every model alias
        return ServerFacts("llama-cpp-python", models)
    return ServerFacts("openai-compatible", models)


# ---------------------------------------------------------------------------- token counting


class TokenCounter:
    """Counts tokens the way the server will, or estimates them where it cannot tell.

    ``post_json(path, body)`` posts to a path relative to the server's root and
    returns the decoded JSON (raising on failure). Results are cached by text.
    """

    def __init__(self, kind: str, model: str, post_json: Callable[[str, dict], Any]) -> None:
        self.model = model
        self._post = post_json
        self._cache: dict[str, int] = {}
        self.method = "estimate"
        for method in _METHODS.get(kind, ("llama-cpp-python",)):
            try:
                if isinstance(self._count_with(method, "probe"), int):
                    self.method = method
                    break
            except Exception:  # noqa: BLE001 - the endpoint is missing: try the next way
                continue

    @property
    def exact(self) -> bool:
        return self.method != "estimate"

    def count(self, text: str) -> int:
        """Tokens of ``text`` inside a prompt (no BOS)."""
        cached = self._cache.get(text)
        if cached is None:
            cached = self._count_with(self.method, text)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[text] = cached
        return cached

    def count_messages(self, messages: Sequence[Mapping[str, str]]) -> int:
        """Tokens of a whole chat prompt (template included, exactly where the server can say)."""
        if self.method == "llama.cpp":
            prompt = self._post("/apply-template", {"messages": list(messages)})["prompt"]
            return len(self._post("/tokenize", {"content": prompt, "add_special": True, "parse_special": True})["tokens"])
        if self.method == "vllm":
            body = {"model": self.model, "messages": list(messages), "add_generation_prompt": True}
            return int(self._post("/tokenize", body)["count"])
        return sum(self.count(m["content"]) + MESSAGE_OVERHEAD for m in messages) + MESSAGE_OVERHEAD

    def _count_with(self, method: str, text: str) -> int:
        if method == "llama.cpp":
            body = {"content": text, "add_special": False, "parse_special": True}
            return len(self._post("/tokenize", body)["tokens"])
        if method == "vllm":
            body = {"model": self.model, "prompt": text, "add_special_tokens": False}
            return int(self._post("/tokenize", body)["count"])
        if method == "llama-cpp-python":
            return len(self._post("/extras/tokenize", {"input": text, "model": self.model})["tokens"])
        return math.ceil(len(text.encode("utf-8")) / ESTIMATE_BYTES_PER_TOKEN)


_METHODS = {
    "llama.cpp": ("llama.cpp",),
    "vllm": ("vllm",),
    "llama-cpp-python": ("llama-cpp-python",),
}


# ---------------------------------------------------------------------------- streamed answers


@dataclass
class StreamEvent:
    """One decoded chunk of a streamed chat completion."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict | None = None
    token: bool = False  # the chunk carried generated content (possibly "" for part of a character)


def parse_chunk(url: str, payload: str) -> StreamEvent:
    """Decode one SSE ``data:`` payload of ``/v1/chat/completions`` (raises on garbage)."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise garbage(url, "a stream chunk is not JSON", payload) from None
    if not isinstance(data, dict):
        raise garbage(url, "a stream chunk is not an object", payload)
    if "error" in data:
        raise RemoteEngineError(f"the engine at {url} failed while answering: {error_message(payload.encode())}")
    choices = data.get("choices")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    if choices == [] and usage is not None:
        return StreamEvent(usage=usage)  # the usage-only chunk of stream_options.include_usage
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise garbage(url, "a stream chunk has no choices", payload)
    choice = choices[0]
    delta = choice.get("delta")
    if delta is None and "text" in choice:  # a completion-style chunk
        delta = {"content": choice["text"]}
    if not isinstance(delta, dict):
        raise garbage(url, "a stream chunk has no delta", payload)
    content = delta.get("content") or ""
    if not isinstance(content, str):
        raise garbage(url, "a stream chunk's content is not text", payload)
    return StreamEvent(content, choice.get("finish_reason"), usage, token=delta.get("content") is not None)


def parse_completion(url: str, body: bytes) -> StreamEvent:
    """Decode a whole (non-streamed) chat completion, for servers that ignore ``stream``."""
    try:
        data = json.loads(body)
    except ValueError:
        raise garbage(url, "the answer is neither an event stream nor JSON", body) from None
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
        if not isinstance(text, str):
            raise TypeError
    except (KeyError, IndexError, TypeError):
        raise garbage(url, "the answer has no choices[0].message.content", body) from None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    return StreamEvent(text, choice.get("finish_reason"), usage, token=bool(text))


# ---------------------------------------------------------------------------- reading a stream

POLL_S = 0.05  # how often a waiting stream looks at its cancel flag


class StreamReader:
    """Reads one streamed chat completion on a helper thread, so waiting never blocks cancel or the timeout.

    ``client`` is an ``httpx2.Client``; ``url`` the server's ``.../v1``; ``timeout`` how
    long the server may stay silent.
    """

    def __init__(self, client: Any, url: str, body: dict, timeout: float) -> None:
        self.client, self.url, self.body, self.timeout = client, url, body, timeout
        self._queue: queue.Queue[Any] = queue.Queue()
        self._response: Any = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ragdesk-remote-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import httpx2

        url = self.url
        try:
            with self.client.stream("POST", url + "/chat/completions", json=self.body) as response:
                self._response = response
                if self._closed:
                    return
                if response.status_code >= 400:
                    raise refused(url, response.status_code, response.read())
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    self._queue.put(parse_completion(url, response.read()))
                    self._queue.put(StopIteration)
                    return
                for line in response.iter_lines():
                    if self._closed:
                        return
                    if not line or line.startswith(":"):
                        continue  # keep-alive comment or event separator
                    if not line.startswith("data:"):
                        if line.startswith(("event:", "id:", "retry:")):
                            continue
                        raise garbage(url, "a line of the event stream is not data", line)
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    self._queue.put(parse_chunk(url, payload))
            self._queue.put(StopIteration)
        except httpx2.TimeoutException:
            self._queue.put(too_slow(url, self.timeout))
        except httpx2.HTTPError as exc:
            if not self._closed:
                self._queue.put(unreachable(url, exc) if self._response is None else
                                RemoteEngineError(f"the engine at {url} broke off its answer ({exc or type(exc).__name__})"))
        except Exception as exc:  # noqa: BLE001 - delivered to the reading thread
            self._queue.put(exc)

    def events(self, cancel: Callable[[], bool] | None) -> Iterator[StreamEvent | None]:
        """Decoded events; None once ``cancel()`` is true. Raises the reader's error, or a timeout."""
        last = time.monotonic()
        while True:
            if cancel is not None and cancel():
                yield None
                return
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if time.monotonic() - last >= self.timeout:
                    raise too_slow(self.url, self.timeout) from None
                continue
            last = time.monotonic()
            if item is StopIteration:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop reading: closing the response tells the server the client has gone."""
        self._closed = True
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing from another thread may race the reader
                pass
