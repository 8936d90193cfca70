"""``--engine URL`` and its companions: generate answers on an OpenAI-compatible server.

Every command that generates text takes these options; without them the
settings decide (``engine_url``, set in the app's Models dialog), and
``--engine local`` forces this computer.
"""

from __future__ import annotations

import functools

import click

_NAMES = ("engine", "engine_key", "engine_model", "engine_adapter", "engine_timeout")


def engine_options(command):
    """Add the engine options; the command receives them packed as one ``engine`` dict."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        packed = {name: kwargs.pop(name) for name in _NAMES}
        return command(*args, engine=packed, **kwargs)

    options = [
        click.option("--engine", "engine", metavar="URL",
                     help="Generate on an OpenAI-compatible server (llama.cpp, vLLM, LM Studio, Ollama /v1) "
                          "instead of this computer; `local` forces this computer [default: the setting]."),
        click.option("--engine-key", "engine_key", envvar="RAGDESK_ENGINE_KEY",
                     help="The server's API key (also $RAGDESK_ENGINE_KEY)."),
        click.option("--engine-model", "engine_model", help="The server's model name [default: the first it lists]."),
        click.option("--engine-adapter", "engine_adapter", multiple=True, metavar="LOCAL=SERVER",
                     help="Map a local adapter name to the server's: a model name (vLLM --lora-modules, LM Studio) "
                          "or lora:ID (llama.cpp's server --lora). Repeatable."),
        click.option("--engine-timeout", "engine_timeout", type=click.FloatRange(0.1), metavar="SECONDS",
                     help="How long the server may stay silent before giving up [default: the setting, 120]."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def engine_choice(settings, given: dict):
    """The EngineChoice for a command: the settings', overridden by what was given."""
    from ragdesk.llm.backends import EngineChoice
    from ragdesk.llm.remote import parse_adapter_map

    choice = EngineChoice.from_settings(settings)
    if given.get("engine"):
        choice.url = given["engine"]
    if given.get("engine_key"):
        choice.key = given["engine_key"]
    if given.get("engine_model"):
        choice.model = given["engine_model"]
    if given.get("engine_adapter"):
        try:
            parse_adapter_map(given["engine_adapter"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--engine-adapter") from None
        choice.adapters.update(dict(item.split("=", 1) for item in given["engine_adapter"]))
    if given.get("engine_timeout"):
        choice.timeout = given["engine_timeout"]
    return choice
