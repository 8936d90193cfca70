"""How ``ragdesk serve`` is set up: address, key, limits, CORS."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

ENV_API_KEY = "RAGDESK_API_KEY"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8756


@dataclass
class ServeConfig:
    """Everything the server needs besides the model; limits answer 413 (body) and 429 (queue)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_key: str | None = None
    model: str | None = None  # registry name or GGUF path (None: the settings' model)
    max_body_bytes: int = 1_000_000
    max_tokens: int = 4096  # the most a request may ask for
    max_queue: int = 32  # requests waiting for the model beyond the one it answers
    max_inputs: int = 256  # texts in one embeddings request
    cors_origins: list[str] = field(default_factory=list)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this computer."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def exposure_warning(config: ServeConfig) -> str | None:
    """A warning when the server is reachable from other computers without a key."""
    if config.api_key or is_loopback(config.host):
        return None
    return (
        f"ragdesk is listening on {config.host}, reachable from other computers, WITHOUT an API key: "
        f"anyone on the network can read your documents through it. Set --api-key or ${ENV_API_KEY}."
    )
