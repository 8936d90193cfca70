"""The HTTP API: OpenAI-compatible routes over ragdesk's engine, errors in OpenAI's shape.

Handlers validate, queue a job on the engine thread and relay what it sends
back; they never touch the model themselves. See :mod:`ragdesk.server.worker`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragdesk.server import protocol
from ragdesk.server.backend import AskParams, Backend, UnknownModel
from ragdesk.server.config import ServeConfig
from ragdesk.server.guards import LimitBody, RequireKey
from ragdesk.server.worker import EngineWorker, Job, JobCancelled, QueueFullError

log = logging.getLogger(__name__)
DISCONNECT_POLL_S = 0.2


class ApiError(Exception):
    """An answer in OpenAI's error shape."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", *,
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, protocol.error_body(message, type_, param=param, code=code)


# ---------------------------------------------------------------------------- request bodies


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send fields ragdesk has no use for
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"  # base64: little-endian float32, as OpenAI


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1)
    collection: str | None = None
    k: int = Field(default=5, ge=1, le=100)
    mode: Literal["hybrid", "vector", "bm25"] = "hybrid"


# ---------------------------------------------------------------------------- the app


def create_app(worker: EngineWorker[Backend], config: ServeConfig) -> FastAPI:
    """The ASGI app for a started worker; guards (key, body size, CORS) wrap every route."""
    app = FastAPI(title="ragdesk", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.worker, app.state.config = worker, config
    _install_error_handlers(app)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "busy": worker.current is not None, "waiting": worker.waiting}

    @app.get("/v1/models")
    async def models() -> dict:
        names, model = await _run(worker, lambda b, job: (b.model_ids(), b.model_name))
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "ragdesk", "root": model} for name in names]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request):
        return await _chat(worker, config, body, request)

    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingsRequest) -> dict:
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        if not texts or len(texts) > config.max_inputs:
            raise ApiError(400, f"input must hold 1 to {config.max_inputs} texts", param="input")
        name, vectors, tokens = await _run(worker, lambda b, job: b.embed(body.model, texts))
        return {"object": "list", "model": name, "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                "data": [{"object": "embedding", "index": i, "embedding": protocol.encode_vector(v, body.encoding_format)}
                         for i, v in enumerate(vectors)]}

    @app.post("/v1/search")
    async def search(body: SearchRequest) -> dict:
        name, hits = await _run(worker, lambda b, job: b.search(body.query, body.collection, body.k, body.mode))
        return {"object": "list", "query": body.query, "collection": name, "mode": body.mode,
                "data": protocol.search_results(hits)}

    outer: Any = LimitBody(app, config.max_body_bytes)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        outer = CORSMiddleware(outer, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                               allow_headers=["authorization", "content-type"])
    if config.api_key:
        outer = RequireKey(outer, config.api_key)
    return outer


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request, exc: ApiError):
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            return JSONResponse(protocol.error_body("the request body is not valid JSON"), status_code=400)
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        message = f"{param}: {first.get('msg', 'invalid value')}" if param else first.get("msg", "invalid request")
        return JSONResponse(protocol.error_body(message, param=param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(protocol.error_body(str(exc.detail), code=code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def crashed(_request, exc: Exception):
        log.error("request failed", exc_info=exc)  # the traceback goes to the log, never to the client
        return JSONResponse(protocol.error_body(
            f"internal error ({type(exc).__name__}); details are in the server's log", "server_error"),
            status_code=500)


# ---------------------------------------------------------------------------- running jobs


def _submit(worker: EngineWorker, fn) -> Job:
    try:
        return worker.submit(fn, asyncio.get_running_loop())
    except QueueFullError as exc:
        raise ApiError(429, f"{exc}: try again shortly", "rate_limit_error", code="queue_full") from None


def _as_api_error(exc: BaseException) -> ApiError:
    """The HTTP answer for what went wrong on the engine thread."""
    from ragdesk.chat.modes import ModeError
    from ragdesk.llm.remote_protocol import RemoteEngineError
    from ragdesk.server.protocol import MessagesError

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, JobCancelled):  # the client left, or the server is stopping
        return ApiError(503, str(exc), "server_error", code="cancelled")
    if isinstance(exc, UnknownModel):
        return ApiError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, RemoteEngineError):
        return ApiError(502, str(exc), "server_error", code="engine_unavailable")
    if isinstance(exc, (ModeError, MessagesError, ValueError)):
        return ApiError(400, str(exc))
    log.error("the engine thread failed", exc_info=exc)
    return ApiError(500, f"internal error ({type(exc).__name__}); details are in the server's log", "server_error")


async def _event(job: Job, request: Request | None) -> tuple[str, Any]:
    """The job's next event; a client that leaves meanwhile (queued or answered) cancels the job."""
    while True:
        try:
            return await asyncio.wait_for(job.next_event(), DISCONNECT_POLL_S)
        except TimeoutError:
            if request is not None and await request.is_disconnected():
                job.cancel()


async def _result(job: Job, request: Request | None = None) -> Any:
    """Wait for the job's result."""
    while True:
        kind, value = await _event(job, request)
        if kind == "done":
            return value
        if kind == "error":
            raise _as_api_error(value)


async def _run(worker: EngineWorker, fn) -> Any:
    return await _result(_submit(worker, fn))


async def _chat(worker: EngineWorker, config: ServeConfig, body: ChatRequest, request: Request):
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None and max_tokens > config.max_tokens:
        raise ApiError(400, f"max_tokens is {max_tokens}, more than this server allows ({config.max_tokens})",
                       param="max_tokens")
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    try:
        question, history = protocol.split_messages([m.model_dump() for m in body.messages])
    except protocol.MessagesError as exc:
        raise ApiError(400, str(exc), param="messages") from None
    params = AskParams(max_tokens, body.temperature, body.top_p, body.seed, stop)
    streaming = body.stream

    def work(backend: Backend, job: Job):
        mid = backend.resolve(body.model)
        job.emit("started", str(mid))
        on_token = (lambda piece: job.emit("piece", piece)) if streaming else None
        return backend.answer(mid, question, history, params, on_token, job.is_cancelled)

    job = _submit(worker, work)
    try:
        kind, value = await _event(job, request)
        if kind == "error":
            raise _as_api_error(value)
        model = body.model
        if not streaming:
            answer = await _result(job, request)
            return protocol.completion(answer, model, protocol.new_completion_id())
    except BaseException:
        job.cancel()
        raise
    return StreamingResponse(_sse(job, model), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


async def _sse(job: Job, model: str):
    """The event stream of one answer; leaving early (a client gone) cancels the job."""
    cid = protocol.new_completion_id()

    def event(data: dict) -> str:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    finished = False
    try:
        yield event(protocol.chunk(model, cid, {"role": "assistant", "content": ""}))
        while not finished:
            kind, value = await job.next_event()
            if kind == "piece":
                yield event(protocol.chunk(model, cid, {"content": value}))
            elif kind == "done":
                finished = True
                yield event(protocol.final_chunk(value, model, cid))
            elif kind == "error":
                finished = True
                if isinstance(value, JobCancelled):
                    return
                yield event(_as_api_error(value).body)
        yield "data: [DONE]\n\n"
    finally:
        if not finished:
            job.cancel()  # the client left: the model is free again within a token
