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
