"""Turn a text file's bytes into str: BOMs, UTF-8, then a sensible guess.

Never raises for odd encodings (the worst case is replacement characters);
raises SkipFile only for bytes that are not text at all.
"""

from __future__ import annotations

import codecs

from ragdesk.ingest.errors import SkipFile

_SNIFF_BYTES = 8192
# Order matters: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Control bytes that plain text does contain: tab, LF, VT, FF, CR, ESC (ANSI colours).
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")
_BAD_CONTROLS = bytes(b for b in range(32) if b not in _TEXT_CONTROLS) + b"\x7f"
# How much messier (charset-normalizer "chaos") Windows-1252 may look than the
# top guess and still win: on short Western text the detector often picks a
# Baltic or Central-European code page that decodes the same bytes wrongly.
_CP1252_SLACK = 0.02


def decode_text(data: bytes) -> str:
    """Decode a text file; raise SkipFile("binary content, not text") for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, errors="replace")
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        encoding = _bomless_utf16(head)
        if encoding is None:
            raise SkipFile("binary content, not text")
        return data.decode(encoding, errors="replace")
    if head and _control_ratio(head) > 0.1:
        raise SkipFile("binary content, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _guess(data)


_STREAM_BOMS = {"utf-8": "utf-8-sig", "utf-16-le": "utf-16", "utf-16-be": "utf-16", "utf-32-le": "utf-32",
                "utf-32-be": "utf-32"}
_CHECK_BLOCK = 1 << 20


def text_encoding(data: bytes) -> str:
    """The codec ``decode_text`` would pick, for decoding ``data`` as a stream.

    The BOM, if any, is consumed by the codec returned. UTF-8 is checked
    block by block without keeping the decoded text; a guess looks at the
    first megabyte only. Raises SkipFile for binary data.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _STREAM_BOMS[encoding]
    head = data[:_SNIFF_BYTES]
    if b"\x00" in head:
        encoding = _bomless_utf16(head)
        if encoding is None:
            raise SkipFile("binary content, not text")
        return encoding
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(0, len(data), _CHECK_BLOCK):
            decoder.decode(view[at : at + _CHECK_BLOCK], final=at + _CHECK_BLOCK >= len(data))
        return "utf-8"
    except UnicodeDecodeError:
        pass
    return _guess_encoding(data[:_CHECK_BLOCK]) or "cp1252"


def looks_binary(data: bytes) -> bool:
    """True when the start of ``data`` is clearly not text (NULs, control bytes)."""
    head = data[:_SNIFF_BYTES]
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return False
    if b"\x00" in head:
        return _bomless_utf16(head) is None
    return bool(head) and _control_ratio(head) > 0.1


def _control_ratio(head: bytes) -> float:
    # bytes.translate with a delete table counts in C, fast on every file.
    return (len(head) - len(head.translate(None, _BAD_CONTROLS))) / len(head)


def _bomless_utf16(head: bytes) -> str | None:
    """Recognise mostly-ASCII UTF-16 without a BOM (NULs on every other byte)."""
    if len(head) < 4:
        return None
    head = head[: len(head) - len(head) % 2]
    even, odd = head[0::2], head[1::2]
    half = len(head) // 2
    if even.count(0) == 0 and odd.count(0) >= half * 0.5:
        candidate = "utf-16-le"
    elif odd.count(0) == 0 and even.count(0) >= half * 0.5:
        candidate = "utf-16-be"
    else:
        return None
    try:
        head.decode(candidate)
    except UnicodeDecodeError:
        return None
    return candidate


def _guess(data: bytes) -> str:
    """Not UTF-8: ask charset-normalizer, preferring Windows-1252 on a near tie."""
    encoding = _guess_encoding(data)
    if encoding is not None:
        return data.decode(encoding, errors="replace")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


def _guess_encoding(data: bytes) -> str | None:
    """charset-normalizer's best guess (Windows-1252 on a near tie), None without one."""
    from charset_normalizer import from_bytes

    try:
        matches = list(from_bytes(data))
    except Exception:  # a detector bug must not stop indexing
        matches = []
    if not matches:
        return None
    best = matches[0]
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + _CP1252_SLACK:
            best = match
            break
    try:
        codecs.lookup(best.encoding)
    except LookupError:
        return None
    return best.encoding
