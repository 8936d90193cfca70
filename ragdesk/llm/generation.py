"""Streaming generation for the Engine: the token loop, stop handling, cancel, statistics.

Generation reuses ``Llama.generate`` (llama.cpp's sampler chain and its KV
prefix cache) and adds only dictionary look-ups per token, so streaming runs
at the speed of raw llama-cpp-python. ``Generation`` is mixed into ``Engine``,
whose state (the Llama, token caches, the busy flag) it uses.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ragdesk.errors import RagdeskError
from ragdesk.llm.prompt_format import AnswerFilter, Prompt

_CONTROL, _EOG = 1, 2  # token kinds that end an answer (control tokens only in chat prompts)


class PromptTooLongError(RagdeskError, ValueError):
    """The prompt does not fit the model's context window."""


@dataclass
class GenerationStats:
    """Counts and timings of one generation.

    ``prompt_ms`` is the time to the first token (prompt evaluation plus the first
    sample), ``generation_ms`` the rest; ``tokens_per_s`` is the decoding rate after
    the first token. ``cached_prompt_tokens`` were reused from the previous prompt's
    KV cache and not evaluated again; ``prompt_threads`` evaluated the rest.
    """

    prompt_tokens: int
    completion_tokens: int
    prompt_ms: float
    generation_ms: float
    total_ms: float
    tokens_per_s: float
    stop_reason: str  # "stop" | "length" | "cancelled"
    cached_prompt_tokens: int = 0
    prompt_threads: int | None = None  # None: not known (a remote engine)

    @classmethod
    def timed(cls, t0: float, t_first: float | None, end: float, *, prompt_tokens: int, completion_tokens: int,
              sampled: int, stop_reason: str, cached_prompt_tokens: int = 0,
              prompt_threads: int | None = None) -> GenerationStats:
        """Statistics from perf_counter readings: start, first token (None: none came), end."""
        first = t_first or end
        gen_s = end - first
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            prompt_ms=(first - t0) * 1000,
            generation_ms=gen_s * 1000,
            total_ms=(end - t0) * 1000,
            tokens_per_s=(sampled - 1) / gen_s if sampled > 1 and gen_s > 0 else 0.0,
            stop_reason=stop_reason,
            cached_prompt_tokens=cached_prompt_tokens,
            prompt_threads=prompt_threads,
        )


class Generation:
    """The generation half of ``Engine`` (see ragdesk.llm.engine)."""

    def stream(
        self,
        prompt: Prompt | str,
        *,
        max_tokens: int = 512,
        temperature: float = 0.2,
        top_p: float = 0.95,
        top_k: int = 40,
        min_p: float = 0.05,
        repeat_penalty: float = 1.1,
        seed: int | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        """Generate text for ``prompt``, yielding pieces as they come.

        Pieces never split a UTF-8 character; generation stops at an end-of-generation
        token, at any of ``prompt.stop`` (not included in the output), after
        ``max_tokens``, or when ``cancel()`` returns true (checked before the prompt
        is evaluated, during its evaluation, and between tokens). ``temperature=0``
        is greedy. Afterwards ``self.last_stats`` holds the counts and timings.
        Raises ``PromptTooLongError`` when the prompt leaves no room to answer.
        """
        self._idle("start another answer")
        llm = self._require()
        prompt = self._as_prompt(prompt)
        tokens = self.tokenize(prompt.text, add_bos=prompt.add_bos, special=True)
        if not tokens:
            bos = llm.token_bos()
            if bos < 0:
                raise ValueError("the prompt is empty")
            tokens = [bos]
        n_ctx = llm.n_ctx()
        if len(tokens) >= n_ctx:
            raise PromptTooLongError(
                f"the prompt is {len(tokens)} tokens but the model's context holds {n_ctx}: shorten it"
            )
        max_tokens = max(0, min(int(max_tokens), n_ctx - len(tokens)))
        sampling = dict(
            top_k=int(top_k), top_p=float(top_p), min_p=float(min_p), temp=max(0.0, float(temperature)),
            repeat_penalty=float(repeat_penalty),
        )
        return self._generate(llm, prompt, tokens, max_tokens, sampling, self.seed if seed is None else seed, cancel)

    def _generate(
        self,
        llm: Any,
        prompt: Prompt,
        tokens: list[int],
        max_tokens: int,
        sampling: dict[str, Any],
        seed: int,
        cancel: Callable[[], bool] | None,
    ) -> Iterator[str]:
        self._busy = True
        t0 = time.perf_counter()
        t_first = None
        sampled = produced = 0
        reason = "length"
        cached = self._cached_prefix(llm, tokens)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")  # as llama-cpp-python
        shown = AnswerFilter(prompt.stop, lstrip=prompt.chat)
        # Only chat prompts end at any control token; raw completions behave like llama-cpp-python.
        last_kind = _CONTROL if prompt.chat else _EOG
        kinds, pieces = self._kinds, self._pieces
        abort = self._abort_hook(llm, cancel)
        gen = None
        threads = None
        try:
            if max_tokens == 0 or (cancel is not None and cancel()):
                reason = "length" if max_tokens == 0 else "cancelled"
                return
            llm.set_seed(seed)
            threads = self._use_prompt_threads(llm)
            gen = llm.generate(tokens, **sampling)
            try:
                for token in gen:
                    sampled += 1
                    if t_first is None:
                        t_first = time.perf_counter()
                        if abort is not None:  # prompt evaluated: keep the token loop free of callbacks
                            self._clear_abort(llm)
                            abort = None
                    kind = kinds.get(token)
                    if kind is None:
                        kind = self._classify(token)
                    if kind >= last_kind:
                        reason = "stop"
                        break
                    produced += 1
                    piece = pieces.get(token)
                    text = decoder.decode(piece if piece is not None else self._piece_bytes(token))
                    if text:
                        text, stopped = shown.feed(text)
                        if text:
                            yield text
                        if stopped:
                            reason = "stop"
                            break
                    if produced >= max_tokens:
                        break
                    if cancel is not None and cancel():
                        reason = "cancelled"
                        break
            except RuntimeError:
                if abort is None or not abort[0]:
                    raise
                reason = "cancelled"  # llama_decode was aborted by the cancel hook mid-prompt
                self._invalidate_kv()
            tail = shown.flush()
            if tail:
                yield tail
        except GeneratorExit:
            reason = "cancelled"  # the consumer stopped reading
            raise
        finally:
            if gen is not None:
                gen.close()
            if abort is not None:
                self._clear_abort(llm)
            self._busy = False
            stats = self.last_stats = GenerationStats.timed(
                t0, t_first, time.perf_counter(), prompt_tokens=len(tokens), completion_tokens=produced,
                sampled=sampled, stop_reason=reason, cached_prompt_tokens=cached, prompt_threads=threads,
            )
            if threads is not None:  # llama.cpp's own use of the cores, not another program's load
                self._idle_cores.note_busy((stats.prompt_ms * threads + stats.generation_ms * self.decode_threads) / 1000)

    def prime(self, tokens: list[int]) -> int:
        """Evaluate ``tokens`` into the KV cache now, so a later prompt that starts with them skips them.

        The background preload calls this with the fixed prefix every prompt shares
        (system prompt, worked example); ``Llama.generate`` then reuses it through its
        longest-common-prefix match. Tokens already cached are kept; returns how many
        were evaluated.
        """
        self._idle("evaluate a prompt")
        llm = self._require()
        tokens = list(tokens)[: llm.n_ctx() - 1]
        keep = 0
        for a, b in zip(llm._input_ids.tolist(), tokens):
            if a != b:
                break
            keep += 1
        if keep == len(tokens):
            return 0
        if keep < llm.n_tokens and not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            self._invalidate_kv()  # this model's cache can't be cut (sliding window): start afresh
            keep = 0
        threads = self._use_prompt_threads(llm)
        self._busy = True
        t0 = time.perf_counter()
        try:
            llm.n_tokens = keep  # eval() appends the rest after the part kept
            llm.eval(tokens[keep:])
            import llama_cpp

            llama_cpp.llama_synchronize(llm.ctx)  # done now, in the preload, not in the first question
        except Exception:
            self._invalidate_kv()  # a half-evaluated cache must not be reused
            raise
        finally:
            self._busy = False
            self._idle_cores.note_busy((time.perf_counter() - t0) * threads)
        return len(tokens) - keep

    def generate(self, prompt: Prompt | str, **kw: Any) -> tuple[str, GenerationStats]:
        """The whole answer at once, with its statistics (same arguments as ``stream``)."""
        text = "".join(self.stream(prompt, **kw))
        assert self.last_stats is not None
        return text, self.last_stats

    def _classify(self, token: int) -> int:
        """0 for an ordinary token, _CONTROL for a control token, _EOG for end-of-generation."""
        import llama_cpp

        vocab = self._llm._model.vocab
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            kind = _EOG
        elif llama_cpp.llama_vocab_is_control(vocab, token):
            kind = _CONTROL
        else:
            kind = 0
        self._kinds[token] = kind
        return kind

    @staticmethod
    def _clear_abort(llm: Any) -> None:
        import llama_cpp

        llama_cpp.llama_set_abort_callback(llm.ctx, llama_cpp.ggml_abort_callback(), None)

    @staticmethod
    def _cached_prefix(llm: Any, tokens: list[int]) -> int:
        """How many prompt tokens Llama.generate will reuse from the KV cache."""
        n = 0
        for a, b in zip(llm._input_ids.tolist(), tokens):
            if a != b:
                break
            n += 1
        return min(n, len(tokens) - 1) if n else 0

    def _abort_hook(self, llm: Any, cancel: Callable[[], bool] | None) -> list | None:
        """Let ``cancel`` interrupt a long prompt evaluation inside llama_decode.

        Returns ``[fired, thunk]``: whether the hook aborted, and the ctypes callback
        (kept referenced while llama.cpp may call it).
        """
        if cancel is None:
            return None
        import llama_cpp

        state: list = [False, None]

        def check(_data: Any) -> bool:
            try:
                if cancel():
                    state[0] = True
                    return True
            except Exception:  # noqa: BLE001 - never raise into C
                pass
            return False

        state[1] = llama_cpp.ggml_abort_callback(check)
        llama_cpp.llama_set_abort_callback(llm.ctx, state[1], None)
        return state
