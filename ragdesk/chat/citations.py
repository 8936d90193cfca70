"""Finding ``[n]`` citations in an answer and keeping only the valid ones."""

from __future__ import annotations

import re

# [1], [1, 3], [1][2], [2-4], [Source 1]: the forms small models actually write.
_MARKER_RE = re.compile(r"\[(?:sources?\s*)?(\d+(?:\s*(?:,|-|–|and)\s*\d+)*)\]", re.IGNORECASE)


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*(?:,|and)\s*", group):
        if re.search(r"[-–]", part):
            lo, hi = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            if 0 < hi - lo < 20:
                numbers.extend(range(lo, hi + 1))
            else:
                numbers.extend([lo, hi])
        elif part.strip().isdigit():
            numbers.append(int(part))
    return numbers


def cited_numbers(answer: str, provided: int) -> list[int]:
    """Source numbers cited in ``answer`` (1-based, in first-cited order) that were provided."""
    seen: dict[int, None] = {}
    for match in _MARKER_RE.finditer(answer):
        for n in _numbers(match.group(1)):
            if 1 <= n <= provided:
                seen.setdefault(n, None)
    return list(seen)


def clean_citations(answer: str, provided: int) -> str:
    """Drop markers (or numbers within markers) that point at sources never provided."""

    def repl(match: re.Match) -> str:
        valid = [n for n in dict.fromkeys(_numbers(match.group(1))) if 1 <= n <= provided]
        return "[" + ", ".join(str(n) for n in valid) + "]" if valid else ""

    cleaned = _MARKER_RE.sub(repl, answer)
    # Removing a marker can leave "word ." or double spaces behind.
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned)


# -- attribution of uncited sentences -----------------------------------------

# A sentence ends at . ! ? followed by white space and no lower-case letter
# (so "U.S. states" or "3.5" don't end one), or at a line break.
_SENTENCE_RE = re.compile(r"[^\n]+?(?:[.!?]+(?=\s+[^a-z\s]|\s*$)|(?=\n)|$)")
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_FUNCTION_WORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have he her his how i if in "
    "into is it its may might must not of on or our she should so such than that the their them then there "
    "these they this those to was we were what when where which who why will with would you your".split()
)
MIN_SHARED_WORDS = 2
MIN_SUPPORT = 0.5


def _content_words(text: str) -> set[str]:
    return {w for w in (t.lower() for t in _TOKEN_RE.findall(text)) if w not in _FUNCTION_WORDS}


def attribute(answer: str, sources: list[str]) -> tuple[str, list[int]]:
    """Add ``[n]`` to uncited sentences that a source clearly supports.

    Small local models often answer from the sources without writing the
    marker. A sentence with no marker is attributed to the source sharing the
    largest part of its content words (at least half, and two words or more),
    so the user still sees where it came from. Returns the new text and the
    numbers added this way (shown as inferred, not as the model's own).
    """
    if not sources or not answer.strip():
        return answer, []
    vocab = [_content_words(s) for s in sources]
    inferred: dict[int, None] = {}
    out, last = [], 0
    for match in _SENTENCE_RE.finditer(answer):
        sentence = match.group(0)
        if not sentence.strip() or _MARKER_RE.search(sentence):
            continue
        words = _content_words(sentence)
        if len(words) < MIN_SHARED_WORDS:
            continue
        shared, best = max((len(words & v), n) for n, v in enumerate(vocab, start=1))
        if shared < MIN_SHARED_WORDS or shared / len(words) < MIN_SUPPORT:
            continue
        body = sentence.rstrip()
        stripped = body.rstrip(".!?")
        insert_at = match.start() + len(stripped)
        out.append(answer[last:insert_at] + f" [{best}]")
        last = insert_at
        inferred.setdefault(best, None)
    out.append(answer[last:])
    return "".join(out), list(inferred)
