"""Page chrome: the parts of an HTML page that are the site around the text, not the text.

Navigation bars, sidebars, tables of contents, search boxes, keyboard-help
overlays, headers and footers repeat on every page of a generated site
(mdbook, Sphinx, rustdoc, Doxygen, Javadoc); indexed, they outrank the page
they surround and show up as sources. ``chrome_kind`` names what an element
is (for the indexing report) or returns None for content. Recognised by
HTML5 elements and ARIA roles first, then by the ids and classes the common
generators use, then by shape: a list that is mostly short link texts.
"""

from __future__ import annotations

import re

_BY_TAG = {"nav": "navigation", "aside": "sidebar", "footer": "footer"}
# Custom elements of rustdoc's page frame.
_BY_CUSTOM_TAG = {"rustdoc-toolbar": "toolbar", "rustdoc-topbar": "toolbar", "rustdoc-search": "search bar"}
_BY_ROLE = {
    "navigation": "navigation",
    "search": "search bar",
    "banner": "header",
    "contentinfo": "footer",
    "complementary": "sidebar",
    "menubar": "navigation",
    "toolbar": "toolbar",
}
# id / class tokens (lower case, a leading "mdbook-" removed) -> what they are.
_BY_NAME = {
    # mdbook
    "help-container": "help overlay",
    "help-popup": "help overlay",
    "help": "help overlay",
    "menu-bar": "navigation",
    "menu-bar-hover-placeholder": "navigation",
    "nav-chapters": "navigation",
    "mobile-nav-chapters": "navigation",
    "nav-wrapper": "navigation",
    "nav-wide-wrapper": "navigation",
    "sidebar": "sidebar",
    "sidebar-scrollbox": "sidebar",
    "searchbar-outer": "search bar",
    "search-wrapper": "search bar",
    "searchresults-outer": "search bar",
    # Sphinx
    "sphinxsidebar": "sidebar",
    "sphinxsidebarwrapper": "sidebar",
    "related": "navigation",
    "footer": "footer",
    "headerlink": "heading anchors",
    "searchbox": "search bar",
    "breadcrumbs": "navigation",
    "wy-nav-side": "sidebar",
    "rst-versions": "navigation",
    # rustdoc
    "skip-main-content": "navigation",
    "doc-anchor": "heading anchors",
    "anchor": "heading anchors",
    "src": "source links",
    "out-of-band": "source links",
    "test-arrow": "source links",
    "hideme": "page controls",  # "Expand description"
    # Doxygen
    "navpath": "navigation",
    "nav-path": "navigation",
    "side-nav": "sidebar",
    "nav-tree": "sidebar",
    "msearchbox": "search bar",
    "msearchselectwindow": "search bar",
    "msearchresultswindow": "search bar",
    "navrow1": "navigation",
    "navrow2": "navigation",
    "navrow3": "navigation",
    # Javadoc
    "top-nav": "navigation",
    "sub-nav": "navigation",
    "bottom-nav": "navigation",
    "skip-nav": "navigation",
    "nav-list": "navigation",
    "legal-copy": "footer",
    # general
    "toc": "table of contents",
    "table-of-contents": "table of contents",
    "pagetoc": "table of contents",
    "navbar": "navigation",
    "site-header": "header",
    "site-footer": "footer",
    "cookie-banner": "cookie banner",
}
_LIST_TAGS = frozenset(("ul", "ol", "dl", "menu", "table"))
LINK_LIST = "link list"
# A list is a link list when this share of its text is link text, with at least
# this many links, and the links are short (titles, not sentences).
LINK_SHARE = 0.85
MIN_LINKS = 4
MAX_MEAN_LINK_CHARS = 40
_NON_SPACE = re.compile(r"\S")


def chrome_kind(tag) -> str | None:
    """What chrome the BeautifulSoup ``tag`` is, or None if it is (or may hold) content."""
    name = tag.name
    if name in _BY_CUSTOM_TAG:
        return _BY_CUSTOM_TAG[name]
    attrs = tag.attrs
    if not attrs and name not in _LIST_TAGS and name not in _BY_TAG and name != "header":
        return None
    # The most specific name wins: <nav class="sidebar"> is reported as a sidebar.
    role = str(attrs.get("role") or "").strip().lower()
    kind = _BY_ROLE.get(role)
    if kind is None:
        for token in _name_tokens(attrs):
            kind = _BY_NAME.get(token)
            if kind is not None:
                break
    if kind is None:
        kind = _BY_TAG.get(name)
    if kind == "header" or (kind is None and name == "header"):
        # A header holding the page's own title is content (HTML5 <article><header><h1>).
        return None if tag.find(("h1", "h2")) is not None else "header"
    if kind is None and name in _LIST_TAGS and is_link_list(tag):
        return LINK_LIST
    return kind


def _name_tokens(attrs) -> list[str]:
    values = attrs.get("class") or []
    if isinstance(values, str):
        values = values.split()
    ident = attrs.get("id")
    tokens = [str(v) for v in values] + ([str(ident)] if ident else [])
    return [t.lower().removeprefix("mdbook-") for t in tokens]


def is_link_list(tag) -> bool:
    """Whether a list or table is mostly short link texts (a table of contents, an index, a menu)."""
    links = tag.find_all("a")
    if len(links) < MIN_LINKS:
        return False
    link_chars = sum(_visible_chars(a.get_text()) for a in links)
    total = _visible_chars(tag.get_text())
    return total > 0 and link_chars >= LINK_SHARE * total and link_chars / len(links) <= MAX_MEAN_LINK_CHARS


def _visible_chars(text: str) -> int:
    return len(_NON_SPACE.findall(text))


def visible_chars(tag) -> int:
    """Non-space characters of the text a tag shows (what the report counts as dropped)."""
    return _visible_chars(tag.get_text())
