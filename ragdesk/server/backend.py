"""What the server's engine thread owns: the knowledge store, the chat session and its model.

Every method runs on that one thread (see :mod:`ragdesk.server.worker`); the
HTTP and MCP layers only translate requests into calls here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragdesk.chat.prompts import Turn
from ragdesk.errors import RagdeskError
from ragdesk.server.model_ids import ModelId, ModelIdError, all_ids, parse_id
from ragdesk.settings import Settings


class UnknownModel(RagdeskError, LookupError):
    """A model id naming a collection or adapter that does not exist (or does not fit the model)."""


@dataclass
class AskParams:
    """Generation choices of one request (None: the settings' value)."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()
    k: int | None = None


class Backend:
    """The store, one ChatSession (one engine, one model) and what can be asked of them."""

    def __init__(self, settings: Settings | None = None, *, model: str | None = None, engine_choice=None,
                 db_path: str | Path | None = None, load: bool = True) -> None:
        """``load=False`` defers loading the model to the first answer (searching needs none)."""
        from ragdesk.chat import ChatSession
        from ragdesk.llm.backends import create_engine
        from ragdesk.store import KnowledgeStore

        self.store = KnowledgeStore(db_path, settings)
        self.settings = self.store.settings
        self.model = model
        try:
            self.session = ChatSession(self.store, engine=create_engine(self.settings, engine_choice))
            if load:
                self.ensure_model()
        except BaseException:
            self.store.close()
            raise

    def ensure_model(self) -> None:
        if not self.session.engine.loaded:
            self.session.load_model(self.model)

    @property
    def model_name(self) -> str:
        return self.session.model_name or "model"

    def close(self) -> None:
        try:
            self.session.engine.close()
        finally:
            self.store.close()

    # -- what can be asked ------------------------------------------------------

    def _collections(self) -> dict:
        from ragdesk.store.collections import all_collections

        return {c.name: c for c in all_collections(self.store.conn)}

    def collections(self) -> list[str]:
        return list(self._collections())

    def adapters(self) -> list[str]:
        """Adapters that fit the loaded model (for a server engine: the mapped ones)."""
        self.ensure_model()
        engine = self.session.engine
        if getattr(engine, "remote", False):
            return sorted(engine.adapter_map)
        from ragdesk.llm.registry import ModelNotFound

        try:
            return [a.name for a in self.session.registry.adapters_for(self.model_name)]
        except ModelNotFound:  # a model loaded by path is not in the registry: no adapter is known to fit
            return []

    def model_ids(self) -> list[str]:
        return all_ids(self.collections(), self.adapters())

    def resolve(self, model: str) -> ModelId:
        """The parsed id, checked against what exists; UnknownModel otherwise."""
        collections = set(self.collections())
        try:
            mid = parse_id(model, collections.__contains__)
        except ModelIdError as exc:
            raise UnknownModel(str(exc)) from None
        if mid.collection is not None and mid.collection not in collections:
            raise UnknownModel(f"no collection named '{mid.collection}'; there are: {_names(collections)}")
        if mid.adapter is not None and mid.adapter not in (adapters := self.adapters()):
            raise UnknownModel(
                f"no adapter named '{mid.adapter}' fits the loaded model {self.model_name}; "
                f"these do: {_names(adapters)}"
            )
        return mid

    # -- work -------------------------------------------------------------------

    def answer(self, mid: ModelId, question: str, history: list[Turn], params: AskParams,
               on_token: Callable[[str], None] | None, cancel: Callable[[], bool]):
        """Answer ``question`` in the id's mode; nothing is stored in the user's conversations."""
        self.ensure_model()
        self.session.choose_adapter(mid.adapter)
        return self.session.ask(
            question, mode=mid.mode, collection=mid.collection, history=history, persist=False,
            on_token=on_token, cancel=cancel, max_tokens=params.max_tokens, temperature=params.temperature,
            top_p=params.top_p, seed=params.seed, stop=tuple(params.stop), k=params.k,
        )

    def search(self, query: str, collection: str | None, k: int | None, mode: str | None):
        name = collection or self.settings.default_collection
        if name not in (known := self.collections()):
            raise UnknownModel(f"no collection named '{name}'; there are: {_names(known)}")
        return name, self.store.search(query, name, k=k, mode=mode)

    def embedding_model(self, model: str) -> str:
        """The embedding model a request's ``model`` means: a collection's (by name or model id) or one by name."""
        infos = self._collections()
        name = model
        if name not in infos:
            try:
                name = parse_id(model, infos.__contains__).collection or self.settings.default_collection
            except ModelIdError:
                name = model
        if name in infos:
            return infos[name].embedding_model
        known = {c.embedding_model for c in infos.values()} | {self.settings.embedding_model}
        if model in known:
            return model
        raise UnknownModel(
            f"'{model}' is neither a collection nor an embedding model in use ({', '.join(sorted(known))})"
        )

    def embed(self, model: str, texts: list[str]):
        """(embedding model, an (n, dim) float32 array, tokens read)."""
        name = self.embedding_model(model)
        embedder = self.store.embedder(name)
        vectors = embedder.encode(texts)
        tokens = sum(sum(e.attention_mask) for e in embedder.tokenizer().encode_batch(texts))  # padding excluded
        return name, vectors, tokens


def _names(names) -> str:
    return ", ".join(sorted(names)) or "none"
