"""ChatSession: one question in, one cited answer out, in any knowledge mode.

The session owns the choices a user makes in the mode switch (model, adapter,
mode, collection) and drives the Engine, the KnowledgeStore and the
conversation log. Switching mode never reloads the model: the Engine applies,
re-scales or removes the adapter on the live context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ragdesk.chat import budget, citations
from ragdesk.chat.conversations import ConversationStore
from ragdesk.chat.modes import ModeError, get_mode, unavailable_reason
from ragdesk.chat.progress import LOADING, READING, SEARCHING, WRITING, ProgressClock, Stage, reading_detail
from ragdesk.chat.prompts import SOURCE_CLOSE, SOURCE_OPEN, Turn
from ragdesk.records import Hit
from ragdesk.settings import Settings


@dataclass
class Answer:
    """An answer with everything needed to show, cite, store and compare it."""

    question: str
    text: str
    mode: str
    model: str
    adapter: str | None
    collection: str | None
    retrieved: list[Hit] = field(default_factory=list)
    cited: list[tuple[int, Hit]] = field(default_factory=list)
    relevant: bool = False
    inferred: list[int] = field(default_factory=list)  # citation numbers added by attribution
    stats: dict = field(default_factory=dict)
    conversation_id: int | None = None
    message_id: int | None = None

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "mode": self.mode,
            "model": self.model,
            "adapter": self.adapter,
            "collection": self.collection,
            "relevant_sources": self.relevant,
            "retrieved": [h.to_json() for h in self.retrieved],
            "cited": [{**h.to_json(), "n": n, "inferred": n in self.inferred} for n, h in self.cited],
            "stats": self.stats,
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
        }


@dataclass(frozen=True)
class Choices:
    """What the user chose, as the session holds it (front ends show this; they don't keep their own)."""

    model: str | None
    adapter: str | None
    collection: str | None
    mode: str


class ChatSession:
    """Asks questions of a local model with retrieval and/or a LoRA adapter."""

    def __init__(self, store, *, engine=None, registry=None, settings: Settings | None = None) -> None:
        from ragdesk.llm.backends import create_engine
        from ragdesk.llm.registry import ModelRegistry

        self.store = store
        self.settings = settings or store.settings
        self.engine = engine or create_engine(self.settings)
        self.registry = registry or ModelRegistry(store.conn)
        self.conversations = ConversationStore(store.conn)
        self.mode = "rag"
        self.collection: str | None = None
        self.model_name: str | None = None
        self.adapter_name: str | None = None
        self.adapter_path: Path | None = None
        self.adapter_scale = 1.0

    # -- choices -----------------------------------------------------------

    def choices(self) -> Choices:
        """The current choices, as one immutable snapshot (safe to hand to another thread)."""
        return Choices(self.model_name, self.adapter_name, self.collection or self.settings.default_collection, self.mode)

    def load_model(self, name_or_path: str | None = None):
        """Load a model (registry name, GGUF path, or the default); no-op if already loaded.

        With a remote engine the name is the server's (see RemoteEngine.load).
        """
        if getattr(self.engine, "remote", False):
            info = self.engine.load(name_or_path)
            self.model_name = info.name
            return info
        entry = self.registry.resolve(name_or_path or self.settings.model)
        if not (self.engine.loaded and self.engine.info and Path(self.engine.info.path) == Path(entry.path)):
            self.engine.load(entry.path)
        self.model_name = entry.name
        return self.engine.info

    def choose_adapter(self, name_or_path: str | None, scale: float = 1.0) -> None:
        """Pick the LoRA adapter the lora and hybrid modes use (None: no adapter)."""
        if name_or_path is None:
            self.adapter_name = self.adapter_path = None
            return
        if getattr(self.engine, "remote", False):  # the server holds the adapter: its mapping decides
            self.adapter_name, self.adapter_scale = str(name_or_path), scale
            self.adapter_path = self.engine.adapter_ref(str(name_or_path))
            return
        entry = self.registry.resolve(name_or_path, kind="adapter")
        self.adapter_name, self.adapter_path, self.adapter_scale = entry.name, Path(entry.path), scale

    def unavailable_reason(self, mode: str, collection: str | None = None) -> str | None:
        """Why ``mode`` can't run with the current choices (or ``collection``), or None if it can."""
        from ragdesk.store import CollectionError

        name = collection or self.collection or self.settings.default_collection
        chunks = None
        if get_mode(mode).retrieval:
            try:
                chunks = self.store.chunk_count(name)
            except CollectionError:
                chunks = None  # nothing indexed yet: the default collection doesn't exist
        return unavailable_reason(mode, has_adapter=self.adapter_path is not None, chunks=chunks, collection=name)

    # -- preloading -------------------------------------------------------

    def warm_up(self, mode: str | None = None) -> dict:
        """Load what the first question needs before it comes; returns what was done.

        A search of the collection loads the embedding model (and the reranker, the
        vector index and the database pages) into this session's store, and the
        prompt's fixed prefix (system prompt, worked example) is evaluated into the
        model's cache, where every later question of the mode reuses it.
        """
        from ragdesk.store import CollectionError

        spec = get_mode(mode or self.mode)
        done = {"searched": False, "primed_tokens": 0}
        collection = self.collection or self.settings.default_collection
        if spec.retrieval:
            try:
                if self.store.chunk_count(collection) > 0:
                    self.store.search("warm up", collection, k=1, mode="hybrid")
                    done["searched"] = True
            except CollectionError:
                pass  # nothing indexed yet: nothing to load for searching
        prime = getattr(self.engine, "prime", None)  # a server keeps its own cache
        if prime is not None and self.engine.loaded and not (spec.adapter and self.adapter_path is None):
            self._apply_adapter(spec.adapter)
            done["primed_tokens"] = prime(self.fixed_prefix_tokens(spec.name))
        return done

    def fixed_prefix_tokens(self, mode: str | None = None) -> list[int]:
        """The prompt tokens every question of ``mode`` starts with (system prompt, worked example).

        Found as the common start of two prompts that differ in everything a
        question brings (its words, its sources), so it is exact for any template.
        """
        from ragdesk.chat.prompts import build_messages

        spec = get_mode(mode or self.mode)
        example = self.settings.extra.get("cite_example", True)
        specials = tuple(getattr(self.engine, "special_tokens", ()) or ())

        def tokens(word: str) -> list[int]:
            hit = Hit(0, 0, f"{word}.txt", None, None, 0, len(word), word, 1.0)
            messages = build_messages(word, sources=[hit] if spec.retrieval else None, specials=specials,
                                      example=example)
            return self.engine.prompt_tokens(self._render(messages, spec.retrieval))

        first, second = tokens("alpha"), tokens("omega")
        n = 0
        for a, b in zip(first, second):
            if a != b:
                break
            n += 1
        return first[:n]

    # -- asking ------------------------------------------------------------

    def _apply_adapter(self, use_adapter: bool) -> None:
        if use_adapter:
            if self.adapter_path is None:
                raise ModeError("this mode needs a LoRA adapter: choose one (--lora NAME)")
            self.engine.set_adapter(self.adapter_path, self.adapter_scale)
        else:
            self.engine.set_adapter(None)

    def _render(self, messages: list[dict], retrieval: bool, stop: Sequence[str] = ()):
        # Small models tend to continue the pattern with another fenced source:
        # a new fence after the answer has begun ends it (a leading one is
        # dropped by _drop_leading_fence instead).
        extra = ("\n" + SOURCE_OPEN, "\n" + SOURCE_CLOSE) if retrieval else ()
        return self.engine.render_chat(messages, extra_stop=(*extra, *stop))

    def _history(self, conversation_id: int | None) -> list[Turn]:
        if conversation_id is None:
            return []
        turns, pending = [], None
        for m in self.conversations.messages(conversation_id):
            if m.role == "user":
                pending = m.content
            elif m.role == "assistant" and pending is not None:
                turns.append(Turn(pending, m.content))
                pending = None
        return turns

    def ask(
        self,
        question: str,
        *,
        mode: str | None = None,
        collection: str | None = None,
        conversation_id: int | None = None,
        on_token: Callable[[str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        k: int | None = None,
        persist: bool = True,
        history: Sequence[Turn] | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] = (),
        on_progress: Callable[[Stage], None] | None = None,
        retrieval_query: str | None = None,
    ) -> Answer:
        """Answer ``question``; streams pieces to ``on_token`` and records both messages.

        ``history`` gives earlier turns directly (an API client's messages) instead of
        reading them from ``conversation_id``; ``stop`` adds stop strings.
        ``on_progress`` receives a ``Stage`` as each step begins (loading, searching,
        reading the prompt, writing), so a slow first token is never a silent wait.
        ``retrieval_query`` searches with other words than the question (e.g. the
        question without an answer-format instruction appended to it).
        """
        progress = ProgressClock(on_progress)
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        spec = get_mode(mode or self.mode)
        collection = collection or self.collection or self.settings.default_collection
        if not self.engine.loaded:
            progress(LOADING, "Loading the model…")
            self.load_model()
        self._apply_adapter(spec.adapter)

        if persist and conversation_id is None:
            conversation_id = self.conversations.create(question[:60]).id
        history = self._history(conversation_id) if history is None else list(history)
        if persist:
            self.conversations.add_message(conversation_id, "user", question, mode=spec.name, collection=collection)

        t0 = time.perf_counter()
        sources: list[Hit] | None = None
        relevant = False
        if spec.retrieval:
            progress(SEARCHING, "Searching…")
            query = (retrieval_query or "").strip() or question
            hits = self.store.search(query, collection, k=k or self.settings.top_k, mode="hybrid")
            threshold = self.settings.relevance_threshold
            sources = [h for h in hits if h.similarity is None or h.similarity >= threshold]
            relevant = bool(sources)
        retrieval_ms = (time.perf_counter() - t0) * 1000

        max_tokens = max_tokens or self.settings.max_tokens
        n_ctx = self.engine.n_ctx
        specials = tuple(getattr(self.engine, "special_tokens", ()) or ())
        fitted = budget.fit(
            question,
            history=history,
            sources=sources,
            n_ctx=n_ctx,
            reserve=min(max_tokens, n_ctx // 4),
            # prompt_tokens counts exactly what will be evaluated (BOS included).
            measure=lambda msgs: len(self.engine.prompt_tokens(self._render(msgs, spec.retrieval, stop))),
            count=self.engine.count_tokens,
            specials=specials,
            example=self.settings.extra.get("cite_example", True),
        )
        given = fitted.sources or []
        prompt = self._render(fitted.messages, spec.retrieval, stop)
        if on_progress is not None:
            source_tokens = sum(self.engine.count_tokens(h.text) for h in given)
            progress(READING, reading_detail(len(given) if sources is not None else None, source_tokens,
                                             fitted.prompt_tokens))
        pieces: list[str] = []
        sampling = {k: v for k, v in (("top_p", top_p), ("seed", seed)) if v is not None}
        tokens = self.engine.stream(
            prompt,
            max_tokens=min(max_tokens, n_ctx - fitted.prompt_tokens),
            temperature=self.settings.temperature if temperature is None else temperature,
            cancel=cancel,
            **sampling,
        )
        for piece in _drop_leading_fence(tokens) if sources is not None else tokens:
            if not pieces:
                progress(WRITING, "Writing…")
            pieces.append(piece)
            if on_token:
                on_token(piece)
        raw = "".join(pieces).strip()
        text, inferred = raw, []
        if sources is not None:
            text = citations.clean_citations(raw, len(given))
            text, inferred = citations.attribute(text, [h.text for h in given])
        # The cited chunks are reported in full even if the prompt held a truncated copy.
        originals = {h.chunk_id: h for h in (sources or [])}
        cited = [
            (n, originals.get(given[n - 1].chunk_id, given[n - 1]))
            for n in citations.cited_numbers(text, len(given))
        ]
        stats = {"retrieval_ms": round(retrieval_ms, 2), **asdict(self.engine.last_stats)}
        stats.update(
            dropped_turns=fitted.dropped_turns, dropped_sources=fitted.dropped_sources, truncated=fitted.truncated
        )
        answer = Answer(
            question=question,
            text=text,
            mode=spec.name,
            model=self.model_name or Path(self.engine.info.path).name,
            adapter=self.adapter_name if spec.adapter else None,
            collection=collection if spec.retrieval else None,
            retrieved=[originals.get(h.chunk_id, h) for h in given],
            cited=cited,
            relevant=relevant,
            inferred=inferred,
            stats=stats,
            conversation_id=conversation_id,
        )
        if persist:
            answer.message_id = self.conversations.add_message(
                conversation_id,
                "assistant",
                text,
                mode=answer.mode,
                model=answer.model,
                adapter=answer.adapter,
                collection=answer.collection,
                retrieved=answer.retrieved,
                cited=answer.cited,
                stats=stats,
            )
        return answer


def _drop_leading_fence(pieces: Iterator[str]) -> Iterator[str]:
    """Skip a fake ``<<<SOURCE ...`` line that a small model writes before its answer.

    Text is held back only while it could still be the start of such a line.
    """
    held = ""
    for piece in pieces:
        if held is None:
            yield piece
            continue
        held += piece
        stripped = held.lstrip()
        if stripped.startswith(SOURCE_OPEN):
            if "\n" in stripped:
                rest = stripped.split("\n", 1)[1].lstrip()
                held = None
                if rest:
                    yield rest
        elif SOURCE_OPEN.startswith(stripped):
            continue  # not decided yet
        else:
            yield held
            held = None
    if held and not held.lstrip().startswith(SOURCE_OPEN):
        yield held
