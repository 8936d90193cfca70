"""ASGI guards in front of every route: the API key, then the body size.

Both answer in OpenAI's error shape before any handler runs, so a request
without the key or with an oversized body never reaches the model's queue.
"""

from __future__ import annotations

import hmac
import json

from ragdesk.server.protocol import error_body

OPEN_PATHS = ("/health",)


async def send_error(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


class RequireKey:
    """401 for every route but the health check unless ``Authorization: Bearer KEY`` matches."""

    def __init__(self, app, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
            return await self.app(scope, receive, send)
        await send_error(send, 401, error_body(
            "Incorrect or missing API key: send it as 'Authorization: Bearer KEY'.", code="invalid_api_key"),
            [(b"www-authenticate", b"Bearer")])


class LimitBody:
    """413 for a body over ``limit`` bytes, declared or sent; the body is read here, once."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._too_large(send)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for http.disconnect, as handlers expect

        await self.app(scope, replay, send)

    async def _too_large(self, send) -> None:
        await send_error(send, 413, error_body(
            f"the request body is larger than {self.limit:,} bytes", code="request_too_large"),
            [(b"connection", b"close")])
