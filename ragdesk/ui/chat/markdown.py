"""Markdown to the HTML subset Qt's rich text understands, with clickable ``[n]`` citations.

Model output is untrusted: raw HTML in it is escaped, never rendered. Citation
markers are only linked in ordinary text, never inside code.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

CITE_SCHEME = "cite"
# [1], [1, 3], [2-3], [Source 2]: the forms the chat core recognises.
_MARKER_RE = re.compile(r"\[(?:sources?\s*)?(\d+(?:\s*(?:,|-|–|and)\s*\d+)*)\]", re.IGNORECASE)
_NUMBER_RE = re.compile(r"\d+")


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).enable("table")
    md.add_render_rule("text", _render_text)
    return md


def _render_text(self, tokens, idx, options, env) -> str:
    text = tokens[idx].content
    if not env.get("link_citations"):
        return html.escape(text, quote=False)
    out, last = [], 0
    for match in _MARKER_RE.finditer(text):
        out.append(html.escape(text[last : match.start()], quote=False))
        inner = match.group(0)
        numbers = _NUMBER_RE.findall(inner)
        if len(numbers) == 1:  # the whole "[n]" is the click target: easier to hit
            out.append(f'<a href="{CITE_SCHEME}:{numbers[0]}">{html.escape(inner)}</a>')
            last = match.end()
            continue
        linked = _NUMBER_RE.sub(lambda m: f'<a href="{CITE_SCHEME}:{m.group(0)}">{m.group(0)}</a>', html.escape(inner))
        out.append(linked)
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def render_markdown(text: str, *, link_citations: bool = True, code_background: str | None = None) -> str:
    """HTML for ``text``; ``[n]`` markers become ``cite:n`` links when ``link_citations``."""
    body = _parser().render(text, {"link_citations": link_citations})
    # Long code lines wrap instead of widening the message; Qt honours inline styles on <pre>.
    style = "white-space:pre-wrap;" + (f" background-color:{code_background};" if code_background else "")
    return body.replace("<pre>", f'<pre style="{style}">')


def render_plain(text: str) -> str:
    """A user's own message: shown as typed (line breaks kept), never interpreted."""
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"


def citation_number(url: str) -> int | None:
    """The ``n`` of a ``cite:n`` link, or None for any other link."""
    if url.startswith(CITE_SCHEME + ":"):
        tail = url[len(CITE_SCHEME) + 1 :]
        return int(tail) if tail.isdigit() else None
    return None
