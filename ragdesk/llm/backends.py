"""Where answers are generated: this computer's llama.cpp, or an OpenAI-compatible server.

One place decides which engine a ChatSession gets, from the settings and from
what a command line overrides, so the CLI, the server and the app agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ENV_ENGINE_KEY = "RAGDESK_ENGINE_KEY"
LOCAL = ("", "local", "none")


@dataclass
class EngineChoice:
    """The generation backend: ``url`` None means this computer."""

    url: str | None = None
    key: str | None = None
    model: str | None = None
    adapters: dict[str, str] = field(default_factory=dict)  # local adapter name -> server's name or lora:ID
    timeout: float = 120.0

    @property
    def remote(self) -> bool:
        return bool(self.url) and self.url.strip().lower() not in LOCAL

    @classmethod
    def from_settings(cls, settings) -> EngineChoice:
        return cls(
            url=settings.engine_url,
            key=settings.engine_key or os.environ.get(ENV_ENGINE_KEY) or None,
            model=settings.engine_model,
            adapters=dict(settings.engine_adapters or {}),
            timeout=settings.engine_timeout,
        )

    def describe(self) -> str:
        return f"a server at {self.url}" if self.remote else "this computer"


def create_engine(settings, choice: EngineChoice | None = None):
    """An Engine (this computer) or a RemoteEngine (a server), as ``choice`` or the settings say."""
    choice = choice or EngineChoice.from_settings(settings)
    if choice.remote:
        from ragdesk.llm.remote import RemoteEngine, parse_adapter_map

        return RemoteEngine(
            choice.url, api_key=choice.key, model=choice.model, adapters=parse_adapter_map(choice.adapters),
            timeout=choice.timeout, n_ctx=settings.n_ctx,
        )
    from ragdesk.llm.engine import Engine

    return Engine(n_ctx=settings.n_ctx, n_threads=settings.n_threads, n_gpu_layers=settings.n_gpu_layers,
                  n_threads_batch=getattr(settings, "n_threads_batch", None))
