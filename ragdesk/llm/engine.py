"""The one object that owns the llama.cpp model: loading, adapters, prompts, streaming.

``Engine`` wraps a single ``llama_cpp.Llama``. It validates model files before
llama.cpp sees them (clear ``ModelLoadError`` sentences instead of crashes),
applies, re-scales and removes LoRA adapters on the live context without
reloading the model, renders chat prompts from the model's own template, and
streams text with cancellation between tokens and timing statistics.

Streaming itself lives in ragdesk.llm.generation. The engine is not thread-safe: drive it
from one thread (the GUI's worker); ``cancel`` callables may read state set by
another thread.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ragdesk.errors import RagdeskError
from ragdesk.llm.generation import Generation, GenerationStats, PromptTooLongError
from ragdesk.llm.gguf_info import (
    AdapterError,
    AdapterInfo,
    ModelInfo,
    ModelLoadError,
    adapter_info_from_header,
    check_adapter_fits,
    model_info_from_header,
    read_header,
)
from ragdesk.llm.idle_cores import IdleCores, physical_cores
from ragdesk.llm.llama_log import clear_recent_problems, install_log_capture, recent_problems
from ragdesk.llm.prompt_format import (
    Prompt,
    SpecialTokenGuard,
    TemplateError,
    completion_prompt,
    merge_system,
    render_template,
    template_stops,
)

__all__ = [
    "AdapterError",
    "AdapterInfo",
    "Engine",
    "EngineBusyError",
    "GenerationStats",
    "ModelInfo",
    "ModelLoadError",
    "NotLoadedError",
    "Prompt",
    "PromptTooLongError",
]

log = logging.getLogger(__name__)


class NotLoadedError(RagdeskError, RuntimeError):
    """The engine was used before a model was loaded."""

    def __init__(self) -> None:
        super().__init__("no model is loaded: load a model first")


class EngineBusyError(RagdeskError, RuntimeError):
    """A generation is still running (cancel it or let it finish first)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"cannot {what} while an answer is being generated: cancel it or wait for it to finish")


# ---------------------------------------------------------------------------- the engine


class Engine(Generation):
    """Owns one llama.cpp model and everything that touches it."""

    def __init__(
        self,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int = 0,
        n_batch: int = 512,
        n_threads_batch: int | None = None,
    ) -> None:
        self._n_ctx_setting = int(n_ctx)
        self.n_threads = n_threads
        # Prompt evaluation is one big batch and can use more threads than decoding.
        # A number fixes them (Settings.n_threads_batch); None chooses before each prompt
        # from the cores the rest of the machine leaves idle (ragdesk.llm.idle_cores).
        self.n_threads_batch = n_threads_batch
        self._idle_cores = IdleCores()
        self.n_gpu_layers = int(n_gpu_layers)
        self.seed = int(seed)
        self.n_batch = int(n_batch)
        self.info: ModelInfo | None = None
        self.adapter: tuple[Path, float] | None = None
        self.last_stats: GenerationStats | None = None
        self.load_count = 0  # how many times a model was actually loaded (tests, benchmarks)
        self._llm: Any = None
        self._tensors: Mapping[str, tuple[int, ...]] = {}
        self._adapters: dict[Path, tuple[Any, AdapterInfo, tuple[int, int]]] = {}
        self._pieces: dict[int, bytes] = {}  # token -> its text as bytes
        self._kinds: dict[int, int] = {}  # token -> 0, _CONTROL or _EOG
        self._specials: tuple[str, ...] | None = None
        self._guard: SpecialTokenGuard | None = None
        self._template_stops: tuple[str, ...] | None = None
        self._busy = False

    # -- state ------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def n_ctx(self) -> int:
        """The context window in tokens: the setting, capped by what the model was trained for."""
        if self._llm is not None:
            return self._llm.n_ctx()
        return self._n_ctx_setting

    @property
    def decode_threads(self) -> int:
        """Threads that generate tokens: the setting, else half the logical CPUs (llama-cpp-python's default)."""
        return self.n_threads or max(1, (os.cpu_count() or 2) // 2)

    def _use_prompt_threads(self, llm: Any) -> int:
        """Set and return the threads for the next prompt: the setting, else the idle cores now."""
        import llama_cpp

        threads = self.n_threads_batch or self._idle_cores.threads(self.decode_threads, physical_cores())
        llama_cpp.llama_set_n_threads(llm.ctx, self.decode_threads, threads)
        return threads

    @property
    def llama(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (for benchmarks and diagnostics)."""
        return self._require()

    def _require(self) -> Any:
        if self._llm is None:
            raise NotLoadedError()
        return self._llm

    def _idle(self, what: str) -> None:
        if self._busy:
            raise EngineBusyError(what)

    # -- loading ----------------------------------------------------------------

    def load(self, model_path: str | Path) -> ModelInfo:
        """Load a GGUF model, replacing the current one; ``ModelLoadError`` if it is unusable.

        The file is checked first (exists, is GGUF, not truncated, is a model), so
        such a bad choice leaves the current model loaded. If llama.cpp itself then
        refuses the file (unknown architecture...), no model is loaded afterwards:
        the old one was freed first so two models never share the memory.
        """
        self._idle("load a model")
        header = read_header(model_path, error=ModelLoadError)
        info = model_info_from_header(header)
        self.close()
        install_log_capture()
        from llama_cpp import Llama

        n_ctx = min(self._n_ctx_setting, info.n_ctx_train) if info.n_ctx_train > 0 else self._n_ctx_setting
        n_ctx = max(n_ctx, 16)
        clear_recent_problems()
        try:
            llm = Llama(
                model_path=str(info.path),
                n_ctx=n_ctx,
                n_batch=min(self.n_batch, n_ctx),
                n_threads=self.decode_threads,
                n_threads_batch=self.n_threads_batch or self.decode_threads,
                n_gpu_layers=self.n_gpu_layers,
                seed=self.seed,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports failures as ValueError/RuntimeError
            raise ModelLoadError(self._explain_load_failure(info, exc)) from None
        self.load_count += 1
        self._llm, self.info, self._tensors = llm, info, header.tensors
        return info

    @staticmethod
    def _explain_load_failure(info: ModelInfo, exc: Exception) -> str:
        problems = recent_problems()
        for line in problems:
            if "unknown model architecture" in line:
                return (
                    f"llama.cpp does not support architecture '{info.architecture}' "
                    f"({info.path.name}); a newer llama-cpp-python may support it"
                )
        # The first error usually names the cause ("error loading model: missing tensor ...");
        # later lines only say that loading failed.
        detail = next((p for p in problems if "error loading model" in p), problems[0] if problems else str(exc))
        detail = detail.split("error loading model: ", 1)[-1]
        return f"llama.cpp could not load {info.path.name}: {detail.rstrip('.')}"

    def close(self) -> None:
        """Free the model, its context and its adapters (safe to call twice)."""
        self._idle("close the model")
        llm, self._llm = self._llm, None
        if llm is not None:
            import llama_cpp

            if self._adapters:
                llama_cpp.llama_set_adapters_lora(llm.ctx, None, 0, None)
                for handle, _, _ in self._adapters.values():
                    llama_cpp.llama_adapter_lora_free(handle)
            llm.close()
        self._adapters.clear()
        self._pieces.clear()
        self._kinds.clear()
        self._specials = self._guard = self._template_stops = None
        self.info, self.adapter, self._tensors = None, None, {}

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- adapters ---------------------------------------------------------------

    def set_adapter(self, adapter_path: str | Path | None, scale: float = 1.0) -> None:
        """Apply a LoRA adapter at ``scale`` on the live context; ``None`` removes it.

        Never reloads the model: each adapter file is loaded once (until it changes
        on disk) and switching only changes which adapters the context applies. The
        KV cache is cleared whenever the effective weights change, since cached keys
        and values computed with other weights are stale. An adapter made for another
        model is refused with ``AdapterError`` before anything changes.
        """
        self._idle("change the adapter")
        llm = self._require()
        import llama_cpp

        if adapter_path is None:
            if self.adapter is not None:
                llama_cpp.llama_set_adapters_lora(llm.ctx, None, 0, None)
                self.adapter = None
                self._invalidate_kv()
            return
        if not isinstance(scale, (int, float)) or not math.isfinite(scale):
            raise AdapterError(f"the adapter scale must be a finite number, not {scale!r}")
        handle, path = self._adapter_handle(adapter_path)
        if self.adapter == (path, float(scale)):
            return
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
        scales = (ctypes.c_float * 1)(float(scale))
        if llama_cpp.llama_set_adapters_lora(llm.ctx, adapters, 1, scales) != 0:
            raise AdapterError(f"llama.cpp could not apply {path.name} to the model")
        self.adapter = (path, float(scale))
        self._invalidate_kv()

    def _adapter_handle(self, adapter_path: str | Path) -> tuple[Any, Path]:
        """The llama.cpp handle of an adapter, loading and validating it the first time."""
        import llama_cpp

        path = Path(adapter_path).expanduser().resolve()
        cached = self._adapters.get(path)
        try:
            st = path.stat()
            if cached is not None and cached[2] == (st.st_mtime_ns, st.st_size):
                return cached[0], path  # the common case of a mode switch: no file parsing at all
        except OSError:
            pass  # read_header words the problem
        header = read_header(path, error=AdapterError)
        stamp = (path.stat().st_mtime_ns, header.size_bytes)
        info = adapter_info_from_header(header)
        assert self.info is not None
        check_adapter_fits(info, self.info, self._tensors)
        clear_recent_problems()
        handle = llama_cpp.llama_adapter_lora_init(self._llm.model, str(path).encode("utf-8"))
        if not handle:  # a NULL pointer (ctypes returns a falsy pointer, not None)
            problems = recent_problems()
            detail = problems[0].split(": ", 1)[-1] if problems else "unknown error"
            raise AdapterError(f"llama.cpp could not load the adapter {path.name}: {detail.rstrip('.')}")
        if cached is not None:  # the file changed on disk: drop the stale copy
            if self.adapter and self.adapter[0] == path:
                llama_cpp.llama_set_adapters_lora(self._llm.ctx, None, 0, None)
                self.adapter = None
                self._invalidate_kv()
            llama_cpp.llama_adapter_lora_free(cached[0])
        self._adapters[path] = (handle, info, stamp)
        return handle, path

    def _invalidate_kv(self) -> None:
        # Llama.generate reuses the KV cache for the longest common token prefix of
        # consecutive prompts; after a weight change that cache is wrong, so forget
        # both the token record and the cache itself.
        llm = self._llm
        llm.reset()
        llm._ctx.kv_cache_clear()

    # -- tokens -----------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Token ids of ``text``; ``special`` parses control-token strings like ``<|im_end|>``."""
        return self._require().tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes inside a prompt (no BOS)."""
        return len(self.tokenize(text))

    def prompt_tokens(self, prompt: Prompt | str) -> list[int]:
        """The exact token ids ``stream`` evaluates for ``prompt``."""
        prompt = self._as_prompt(prompt)
        return self.tokenize(prompt.text, add_bos=prompt.add_bos, special=True)

    def _token_text(self, token: int) -> str:
        import llama_cpp

        if token < 0:
            return ""
        raw = llama_cpp.llama_vocab_get_text(self._llm._model.vocab, token)
        return raw.decode("utf-8", errors="replace") if raw else ""

    @property
    def bos_token(self) -> str:
        return self._token_text(self._require().token_bos())

    @property
    def eos_token(self) -> str:
        return self._token_text(self._require().token_eos())

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """Texts of the vocabulary's control tokens (``<|im_start|>``, ``<bos>``...)."""
        if self._specials is None:
            import llama_cpp

            llm = self._require()
            vocab, n = llm._model.vocab, llm.n_vocab()
            wanted = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
            found = {
                self._token_text(t) for t in range(n) if llama_cpp.llama_vocab_get_attr(vocab, t) & wanted
            }
            self._specials = tuple(sorted(s for s in found if len(s) >= 2))
        return self._specials

    def _piece_bytes(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            buf = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self._llm._model.vocab, token, buf, 64, 0, False)
            if n < 0:  # the piece is longer than the buffer: retry with the size asked for
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._llm._model.vocab, token, buf, -n, 0, False)
            piece = buf.raw[: max(n, 0)]
            self._pieces[token] = piece
        return piece

    # -- prompts ----------------------------------------------------------------

    def neutralise(self, text: str) -> str:
        """``text`` with this vocabulary's control-token strings made inert (see SpecialTokenGuard)."""
        if self._guard is None:
            self._guard = SpecialTokenGuard(self.special_tokens)
        return self._guard(text)

    def render_chat(self, messages: Sequence[Mapping[str, str]], *, extra_stop: Sequence[str] = ()) -> Prompt:
        """The prompt for a chat: the model's template, or a completion-style fallback.

        ``messages`` are ``{"role": "system"|"user"|"assistant", "content": str}``.
        Message contents are neutralised so they cannot forge control tokens. A
        template that rejects a system message gets it folded into the first user
        message; a template that cannot be rendered at all falls back to the
        completion style (and says so in the log).
        """
        llm = self._require()
        assert self.info is not None
        cleaned = [{"role": m["role"], "content": self.neutralise(str(m["content"]))} for m in messages]
        template = self.info.chat_template
        bos, eos = self.bos_token, self.eos_token
        text: str | None = None
        if template:
            for attempt in (cleaned, merge_system(cleaned)):
                try:
                    text = render_template(template, attempt, bos_token=bos, eos_token=eos)
                    break
                except TemplateError as exc:
                    log.info("%s: %s", self.info.path.name, exc)
        if text is not None:
            if self._template_stops is None:
                self._template_stops = template_stops(template, bos_token=bos, eos_token=eos)
            stop = self._template_stops
        else:
            text, stop = completion_prompt(cleaned)
        add_bos = bool(llm._model.add_bos_token()) and not (bos and text.startswith(bos))
        stops = tuple(dict.fromkeys((*stop, *extra_stop)))
        return Prompt(text=text, stop=stops, add_bos=add_bos, chat=True)

    def _as_prompt(self, prompt: Prompt | str) -> Prompt:
        if isinstance(prompt, Prompt):
            return prompt
        # A bare string is a raw completion, tokenized the way Llama.create_completion does.
        return Prompt(text=prompt, stop=(), add_bos=bool(self._require()._model.add_bos_token()))

    # -- diagnostics ------------------------------------------------------------

    def next_token_logits(self, prompt: Prompt | str | Sequence[int]) -> Any:
        """The logits (numpy float32, one per vocabulary entry) for the token after ``prompt``.

        Evaluates the prompt from scratch with the current adapter; used by tests
        and by the merge check to compare weights exactly.
        """
        import llama_cpp
        import numpy as np

        self._idle("evaluate a prompt")
        llm = self._require()
        tokens = list(prompt) if not isinstance(prompt, (str, Prompt)) else self.prompt_tokens(prompt)
        self._invalidate_kv()
        llm.eval(tokens)
        row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).copy()
