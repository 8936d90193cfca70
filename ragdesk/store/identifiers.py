"""Identifiers people type: E0382, CVE-2024-3094, ISO-8601, cmake_minimum_required, std::vec::Vec, camelCase.

The FTS tokenizer (unicode61) splits text at every character that is not a
letter or digit and keeps each run of letters and digits whole: it indexes
``CVE-2024-3094`` as three words and ``HashMap`` or ``ISO8601`` as one. So a
user typing ``ISO8601`` would miss ``ISO-8601``, ``hash map`` would miss
``HashMap``, and prose that merely uses the words ``minimum required`` would
score like the page naming ``cmake_minimum_required``.

At index time each identifier in a chunk adds, after the chunk's text, its
*joined* form (all its letters and digits run together, lower case:
``cve20243094``) and the *pieces* of runs that mix cases or letters and digits
(``hash map``, ``iso 8601``, ``e 0382``). A query asks for each identifier's
joined form and its pieces as a phrase, besides the plain words. An exact
identifier then matches whole (and scores above prose using its words, since
the joined form is rare), and matches by its parts whatever separators either
side used.
"""

from __future__ import annotations

import re

# A run of word characters joined by separators without spaces: a::b, a.b, a-b, a_b, a/b.
_TOKEN = re.compile(r"\w+(?:(?:::|[.:/\-])\w+)*")
_RUN = re.compile(r"[^\W_]+")  # letters and digits only: the unit unicode61 indexes
_PIECE = re.compile(r"\d+|[^\W\d_]+")
# camelCase / PascalCase / HTTPServer boundaries (ASCII case is what code uses).
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_HAS_LETTER = re.compile(r"[^\W\d_]")
MAX_FORMS_PER_CHUNK = 400  # a chunk of pure code cannot blow up its index row


def pieces(run: str) -> list[str]:
    """A letters-and-digits run split at case and letter/digit changes: HashMap -> [Hash, Map]."""
    out: list[str] = []
    for piece in _PIECE.findall(run):
        out.extend(p for p in _CAMEL.split(piece) if p)
    return out


def identifiers(text: str) -> list[str]:
    """The identifier-shaped tokens of ``text`` in order, each once.

    A token counts when it has a letter and either joins several runs by
    separators (``os.path.join``, ``ISO-8601``, ``a_b``) or mixes letters
    with digits or lower with upper case inside a run (``E0382``, ``camelCase``).
    """
    found: dict[str, None] = {}
    for token in _TOKEN.findall(text):
        if token in found or not _HAS_LETTER.search(token):
            continue
        runs = _RUN.findall(token)
        if len(runs) > 1 or any(len(pieces(run)) > 1 for run in runs):
            found[token] = None
    return list(found)


_PLAIN_COMPOUND = re.compile(r"[^\W\d_]+(?:[-/'][^\W\d_]+)*")


def names_identifier(query: str) -> bool:
    """Whether a query names a code or a name (the fusion leans on BM25 then).

    Stricter than ``identifiers``: hyphenated words (``built-in``, ``read-only``)
    and abbreviations (``e.g``) are prose, not names.
    """
    for token in identifiers(query):
        if _PLAIN_COMPOUND.fullmatch(token) and not any(len(pieces(r)) > 1 for r in _RUN.findall(token)):
            continue
        if max(len(r) for r in _RUN.findall(token)) < 2:
            continue
        return True
    return False


def joined(token: str) -> str | None:
    """The token's letters and digits run together in lower case, when it has several runs."""
    runs = _RUN.findall(token)
    return "".join(runs).lower() if len(runs) > 1 else None


def piece_words(token: str) -> list[str]:
    """Every piece of the token, in order, lower case: CVE-2024-3094 -> [cve, 2024, 3094]."""
    return [p.lower() for run in _RUN.findall(token) for p in pieces(run)]


def index_forms(text: str) -> str:
    """The extra words indexed after a chunk's text (empty when it names no identifier)."""
    forms: list[str] = []
    for token in identifiers(text):
        whole = joined(token)
        if whole:
            forms.append(whole)
        for run in _RUN.findall(token):
            split = pieces(run)
            if len(split) > 1:
                forms.append(" ".join(p.lower() for p in split))
        if len(forms) >= MAX_FORMS_PER_CHUNK:
            break
    return " ".join(forms)


def with_forms(text: str) -> str:
    """``text`` followed by its identifier forms: what the FTS index stores for a chunk."""
    forms = index_forms(text)
    return f"{text}\n{forms}" if forms else text


def query_phrases(query: str, limit: int = 16) -> list[str]:
    """FTS5 phrases (unquoted) for the identifiers of a query: each one's joined form and its pieces.

    Pieces go in as one phrase, so ``CVE-2024-3094`` asks for ``cve 2024
    3094`` in that order rather than three unrelated numbers.
    """
    phrases: dict[str, None] = {}
    for token in identifiers(query)[:limit]:
        whole = joined(token)
        if whole:
            phrases[whole] = None
        words = piece_words(token)
        if len(words) > 1:
            phrases[" ".join(words)] = None
    return list(phrases)
