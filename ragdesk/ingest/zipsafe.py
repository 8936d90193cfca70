"""Open the ZIP container of an Office file or e-book, refusing bombs before unpacking.

docx, pptx, xlsx, odt and epub are ZIP files. A small file can declare
gigabytes of content (a "zip bomb") and would exhaust memory inside the
parser library; the central directory tells the declared sizes without
unpacking anything, and Python's zipfile never inflates a member past its
declared size, so checking the directory bounds what any reader can unpack.
Password-protected Office files are not ZIPs at all but an OLE (CFB)
container holding an ``EncryptedPackage`` stream: recognised here by their
signature so the report can say why they were skipped.
"""

from __future__ import annotations

import io
import zipfile

from ragdesk.ingest.errors import SkipFile
from ragdesk.ingest.rules import human_size

MAX_UNPACKED_BYTES = 1024**3  # all members together; a 1-million-row sheet is ~300 MB of XML
MAX_MEMBERS = 50_000
MAX_RATIO = 1000  # deflate's own limit is about 1032:1; real documents stay far below
RATIO_FLOOR_BYTES = 1024**2  # small members may compress extremely well (empty XML parts)

_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def open_zip(data: bytes, label: str) -> zipfile.ZipFile:
    """A ZipFile over ``data`` whose declared sizes are safe to unpack; else SkipFile.

    ``label`` names the format in reasons (``"XLSX"``).
    """
    if data.startswith(_OLE_SIGNATURE):
        if _ENCRYPTED_PACKAGE in data:
            raise SkipFile(f"password-protected {label} (encrypted; save it without a password to index it)")
        raise SkipFile(f"not a {label} file: an old binary Office file (.doc, .xls or .ppt) with a new name")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise SkipFile(f"corrupt or unreadable {label}: not a valid ZIP container ({detail})") from None
    check_members(members, label)
    return archive


def check_members(members: list[zipfile.ZipInfo], label: str) -> None:
    """Raise SkipFile if the declared sizes look like a zip bomb."""
    if len(members) > MAX_MEMBERS:
        raise SkipFile(f"{label} refused: {len(members):,} parts in one file (limit {MAX_MEMBERS:,})")
    total = 0
    for info in members:
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise SkipFile(
                f"{label} refused: it would unpack to more than {human_size(MAX_UNPACKED_BYTES)}"
                " (a zip bomb, or far too large to index)"
            )
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise SkipFile(
                f"{label} refused: part {info.filename!r} is compressed {info.file_size // max(1, info.compress_size):,}:1"
                " (a zip bomb)"
            )
