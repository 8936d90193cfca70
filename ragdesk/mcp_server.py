"""``ragdesk mcp``: your documents as Model Context Protocol tools, over stdio.

Three tools for any MCP client (desktop assistants, IDEs): ``search_documents``
(hits with file, page, heading, text), ``ask`` (an answer with citations, in any
mode) and ``list_collections``. Built on the official ``mcp`` SDK. The SDK calls
tools on threads of its own; everything that touches the store or the model is
handed to one thread that owns them (the model loads on the first ``ask``).
Nothing but the protocol may be written to stdout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ragdesk.server import protocol
from ragdesk.server.backend import AskParams, Backend
from ragdesk.server.model_ids import format_id

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "ragdesk searches the user's own indexed documents and answers from them with numbered citations. "
    "Use search_documents to find passages, ask for a cited answer, list_collections to see what is indexed."
)


class DocumentTools:
    """The tools' implementations, run on one thread that owns the store and the model."""

    def __init__(self, settings=None, *, model: str | None = None, engine_choice=None, db_path=None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragdesk-mcp")
        self._make = lambda: Backend(settings, model=model, engine_choice=engine_choice, db_path=db_path, load=False)
        self._backend: Backend | None = None

    def _on_owner(self, fn: Callable[[Backend], Any]) -> Any:
        """Run ``fn(backend)`` on the owning thread; a user's mistake becomes a ToolError sentence."""
        from mcp.server.mcpserver.exceptions import ToolError

        def run():
            if self._backend is None:
                self._backend = self._make()
            return fn(self._backend)

        from ragdesk.errors import user_message

        try:
            return self._executor.submit(run).result()
        except Exception as exc:  # noqa: BLE001 - only a user's mistake becomes a sentence
            message = user_message(exc, os_errors=False)
            if message is None:
                raise
            raise ToolError(message) from None

    def search_documents(self, query: str, collection: str | None = None, k: int = 5) -> dict:
        if not query.strip():
            from mcp.server.mcpserver.exceptions import ToolError

            raise ToolError("the query is empty")
        k = max(1, min(int(k), 50))
        name, hits = self._on_owner(lambda b: b.search(query, collection, k, "hybrid"))
        return {"collection": name, "hits": protocol.search_results(hits)}

    def ask(self, question: str, mode: str = "rag", collection: str | None = None,
            adapter: str | None = None) -> dict:
        from ragdesk.chat.modes import MODES

        spec = MODES.get(mode)
        if spec is None:
            from mcp.server.mcpserver.exceptions import ToolError

            raise ToolError(f"unknown mode {mode!r}: choose {', '.join(MODES)}")
        model_id = format_id(mode, collection if spec.retrieval else None, adapter if spec.adapter else None)

        def answer(b: Backend):
            mid = b.resolve(model_id)
            return b.answer(mid, question, [], AskParams(), None, lambda: False)

        result = self._on_owner(answer)
        return {
            "answer": result.text,
            "mode": result.mode,
            "model": result.model,
            "adapter": result.adapter,
            "collection": result.collection,
            "citations": protocol.answer_citations(result),
        }

    def list_collections(self) -> list[dict]:
        def collections(b: Backend):
            return [info.to_json() for info in b.store.collections()]

        return [
            {k: c[k] for k in ("name", "documents", "chunks", "embedding_model", "sources") if k in c}
            for c in self._on_owner(collections)
        ]

    def close(self) -> None:
        if self._backend is not None:
            self._executor.submit(self._backend.close).result()
        self._executor.shutdown(wait=True)


def build_server(tools: DocumentTools):
    """The MCPServer with the three tools registered."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("ragdesk", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(description="Search the user's indexed documents; returns passages with file, page, heading "
                             "and text, best first. collection: which collection (default: the default one); "
                             "k: how many passages (1-50).")
    def search_documents(query: str, collection: str | None = None, k: int = 5) -> dict:
        return tools.search_documents(query, collection, k)

    @server.tool(description="Answer a question from the user's documents with numbered [n] citations. "
                             "mode: rag (retrieval, default), hybrid (retrieval + LoRA adapter), lora (adapter "
                             "only) or closed (the model alone); adapter: a LoRA adapter name for lora/hybrid.")
    def ask(question: str, mode: str = "rag", collection: str | None = None, adapter: str | None = None) -> dict:
        return tools.ask(question, mode, collection, adapter)

    @server.tool(description="List the collections of indexed documents with their sizes.")
    def list_collections() -> dict:
        return {"collections": tools.list_collections()}

    return server


def run_stdio(settings=None, *, model: str | None = None, engine_choice=None) -> None:
    """Serve the tools over stdin/stdout until the client closes the connection."""
    tools = DocumentTools(settings, model=model, engine_choice=engine_choice)
    try:
        build_server(tools).run("stdio")
    finally:
        tools.close()
