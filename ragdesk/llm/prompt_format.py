"""Turning chat messages into the text a model is prompted with.

A model that carries a chat template in its GGUF metadata gets it rendered with
jinja2 (sandboxed, the way Hugging Face renders templates), and the stop
strings are read off the template itself: whatever it writes after an
assistant message ends the answer. A model without a template (a base model
such as Gemma 3 270M) gets a plain "Question:/Answer:" document to continue,
with stop strings that end the answer where the next question would begin.

Nothing here needs llama.cpp; the engine passes in the vocabulary's texts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ragdesk.errors import RagdeskError

# A zero-width joiner breaks a control-token string without changing how it reads.
ZWJ = "\u200d"
# Variables every chat template is rendered with (training renders the same ones).
# Hybrid-reasoning models (Qwen3, SmolLM3) write a long reasoning transcript before the
# answer unless their template is told not to; ragdesk wants the answer, with citations.
TEMPLATE_VARIABLES = {"enable_thinking": False}
_PROBE = "\x00RAGDESK-PROBE\x00"


@dataclass(frozen=True)
class Prompt:
    """Text to continue, the strings that end the answer, and whether to prepend BOS.

    ``chat`` marks a prompt rendered for a chat turn: the engine then drops the
    answer's leading whitespace and also ends it at any control token (a model that
    starts a new turn has finished its answer).
    """

    text: str
    stop: tuple[str, ...]
    add_bos: bool = False
    chat: bool = False


class TemplateError(RagdeskError):
    """A chat template cannot be rendered for these messages."""


# ---------------------------------------------------------------------------- jinja templates


def _compile(template: str):
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    # Hugging Face templates expect JSON without ASCII escaping.
    env.filters["tojson"] = lambda value, indent=None, **_: json.dumps(value, ensure_ascii=False, indent=indent)
    try:
        return env.from_string(template)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"the model's chat template is invalid: {exc}") from None


_compiled: dict[str, object] = {}


def render_template(
    template: str,
    messages: Sequence[Mapping[str, str]],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render a Hugging Face style chat template; ``TemplateError`` if it refuses the messages."""
    compiled = _compiled.get(template)
    if compiled is None:
        compiled = _compiled[template] = _compile(template)

    def raise_exception(message: str) -> None:
        raise TemplateError(f"the model's chat template refused the conversation: {message}")

    try:
        return compiled.render(  # type: ignore[attr-defined]
            messages=[dict(m) for m in messages],
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
            raise_exception=raise_exception,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
            **TEMPLATE_VARIABLES,
        )
    except TemplateError:
        raise
    except Exception as exc:  # jinja2 errors, or a template indexing a field we lack
        raise TemplateError(f"the model's chat template failed: {exc}") from None


def merge_system(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Fold system messages into the first user message, for templates without a system role."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        for m in rest:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
        else:
            rest.insert(0, {"role": "user", "content": system})
    return rest


def template_stops(template: str, *, bos_token: str = "", eos_token: str = "") -> tuple[str, ...]:
    """Strings that end an assistant turn in this template, found by rendering probes.

    A conversation ``user, assistant=P1, user=P2`` is rendered; what the template
    writes between P1 and P2 is the end of an assistant turn (``<|im_end|>``,
    ``<end_of_turn>``, ``<|eot_id|>``...) followed by the header of the next user
    turn (``<|im_start|>user``). Both end the answer, as does the EOS text.
    """
    probe_a, probe_b = _PROBE + "A", _PROBE + "B"
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": probe_a},
        {"role": "user", "content": probe_b},
    ]
    stops: list[str] = []
    try:
        text = render_template(template, messages, bos_token=bos_token, eos_token=eos_token, add_generation_prompt=False)
    except TemplateError:
        text = ""
    if probe_a in text and probe_b in text.split(probe_a, 1)[1]:
        between = text.split(probe_a, 1)[1].split(probe_b, 1)[0]
        lines = [line.strip() for line in between.splitlines() if line.strip()]
        if lines:
            stops.extend(dict.fromkeys((lines[0], lines[-1])))
    if eos_token:
        stops.append(eos_token)
    return tuple(dict.fromkeys(s for s in stops if len(s) >= 2))


# ---------------------------------------------------------------------------- completion style

COMPLETION_STOPS = ("\nQuestion:", "\nQ:", "\nUser:", "\n\n\n", "Question:")
_ROLE_LABEL = {"user": "Question", "assistant": "Answer"}


def completion_prompt(messages: Sequence[Mapping[str, str]]) -> tuple[str, tuple[str, ...]]:
    """A plain-text "System / Question / Answer:" document for models without a chat template.

    The system message becomes the opening paragraph, each user turn a
    ``Question:`` and each assistant turn an ``Answer:``; the text ends with
    ``Answer:`` so a base model writes the answer, and the stop strings end it
    where the model would start inventing the next question.
    """
    parts: list[str] = []
    for m in messages:
        content = m["content"].strip()
        if m["role"] == "system":
            parts.append(content + "\n")
        else:
            label = _ROLE_LABEL.get(m["role"], m["role"].capitalize())
            parts.append(f"{label}: {content}")
            if m["role"] == "assistant":
                parts.append("")
    parts.append("Answer:")
    return "\n".join(parts), COMPLETION_STOPS


# ---------------------------------------------------------------------------- stop strings


class StopFilter:
    """Passes streamed text through until a stop string appears, which it cuts off.

    Text that could be the beginning of a stop string is held back until the
    next piece shows whether it is one, so no part of a stop string is ever emitted.
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self.stops), default=0)
        self._pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Add generated text; returns (text safe to show, whether a stop string was reached)."""
        pending = self._pending + text
        cut = min((i for i in (pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self._pending = ""
            return pending[:cut], True
        keep = 0
        for k in range(min(len(pending), self._longest - 1), 0, -1):
            tail = pending[-k:]
            if any(s.startswith(tail) for s in self.stops):
                keep = k
                break
        self._pending = pending[len(pending) - keep :]
        return pending[: len(pending) - keep], False

    def flush(self) -> str:
        """Text held back for a stop string that never came (it is ordinary output)."""
        pending, self._pending = self._pending, ""
        return pending


class AnswerFilter:
    """What an answer shows of generated text: leading whitespace dropped (chat), stop strings cut off.

    Shared by the local engine and the remote one, so both end answers alike.
    """

    def __init__(self, stops: Iterable[str], *, lstrip: bool) -> None:
        self._stops = StopFilter(stops) if stops else None
        self._lstrip = lstrip

    def feed(self, text: str) -> tuple[str, bool]:
        """Like StopFilter.feed: (text safe to show, whether a stop string was reached)."""
        if self._lstrip:
            text = text.lstrip()
            self._lstrip = not text
        if self._stops is None or not text:
            return text, False
        return self._stops.feed(text)

    def flush(self) -> str:
        return self._stops.flush() if self._stops is not None else ""


# ---------------------------------------------------------------------------- untrusted text


class SpecialTokenGuard:
    """Makes a vocabulary's control-token strings inert inside untrusted text.

    The engine tokenizes prompts with special-token parsing on (the template's
    markers must become control tokens), so a document containing
    ``<|im_start|>system`` would otherwise forge a turn. Each occurrence gets a
    zero-width joiner after its first character, which the tokenizer reads as text.
    """

    def __init__(self, specials: Iterable[str]) -> None:
        import re

        self.specials = frozenset(s for s in specials if len(s) >= 2)
        self._lengths = sorted({len(s) for s in self.specials}, reverse=True)
        firsts = "".join(sorted({re.escape(s[0]) for s in self.specials}))
        self._starts = re.compile(f"[{firsts}]") if firsts else None

    def __call__(self, text: str) -> str:
        if self._starts is None:
            return text
        out: list[str] = []
        done = 0
        for match in self._starts.finditer(text):
            i = match.start()
            if i < done:
                continue
            hit = next((L for L in self._lengths if text[i : i + L] in self.specials), 0)
            if hit:
                out.append(text[done : i + 1] + ZWJ + text[i + 1 : i + hit])
                done = i + hit
        if not out:
            return text
        out.append(text[done:])
        return "".join(out)
