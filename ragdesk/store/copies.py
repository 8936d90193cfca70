"""Copies: the same text in several files (print pages, mirrors, copied folders) takes one result slot.

Each chunk stores a hash of its text with case and spacing normalised
(``content_hash``). A search ranks deeper than it returns, keeps the best
chunk of each hash, and lists the others as the hit's ``copies``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING

import apsw

from ragdesk.records import Copy, Hit
from ragdesk.store.collections import Collection

if TYPE_CHECKING:
    from ragdesk.store.search import Ranked

MAX_COPIES = 50  # listed per hit; a text copied into thousands of files still answers fast


def content_hash(text: str) -> str:
    """The hash two chunks share when their texts differ only in case and spacing."""
    normal = " ".join(text.casefold().split())
    return hashlib.blake2b(normal.encode("utf-8"), digest_size=16).hexdigest()


def hashes(conn: apsw.Connection, chunk_ids: list[int]) -> dict[int, str | None]:
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    return dict(conn.execute(f"SELECT id, content_hash FROM chunks WHERE id IN ({marks})", chunk_ids))


# A copy in a document this many times larger than another copy's is a compilation
# (a print page, an index) of that other page, which then represents the text.
COMPILATION_RATIO = 3


def distinct(conn: apsw.Connection, ranked: list[Ranked], k: int) -> list[Ranked]:
    """The first ``k`` of ``ranked`` with different texts, each at the rank of its best copy.

    The best-ranked copy represents a text, unless it sits in a compilation
    (``COMPILATION_RATIO``) of a page that holds the same text among the
    candidates: then the page does, since identical texts score alike and the
    compilation would win or lose by chance.
    """
    by_id = hashes(conn, [r.chunk_id for r in ranked])
    groups: dict[str, list[Ranked]] = {}
    for r in ranked:
        key = by_id.get(r.chunk_id) or f"#{r.chunk_id}"  # chunks without a hash count as unique
        if key in groups:
            groups[key].append(r)
        elif len(groups) < k:
            groups[key] = [r]
    sizes = _document_sizes(conn, [r.chunk_id for g in groups.values() if len(g) > 1 for r in g])
    out = []
    for group in groups.values():
        best = group[0]
        if len(group) > 1:
            page = min(group, key=lambda r: sizes.get(r.chunk_id, 0))
            if sizes.get(best.chunk_id, 0) >= COMPILATION_RATIO * max(1, sizes.get(page.chunk_id, 0)):
                best = replace(best, chunk_id=page.chunk_id, similarity=page.similarity or best.similarity)
        out.append(best)
    return out


def _document_sizes(conn: apsw.Connection, chunk_ids: list[int]) -> dict[int, int]:
    """Chunks in the document of each chunk."""
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    return dict(conn.execute(
        f"SELECT c.id, d.n_chunks FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
        chunk_ids,
    ))


def with_copies(conn: apsw.Connection, collection: Collection, hits: list[Hit]) -> list[Hit]:
    """The hits, each with the other chunks of the collection that hold the same text."""
    by_id = hashes(conn, [h.chunk_id for h in hits])
    out = []
    sql = (
        "SELECT c.id, c.document_id, d.path, c.page FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE c.content_hash = ? AND d.collection_id = ? AND c.id != ? ORDER BY d.path, c.id LIMIT ?"
    )
    for hit in hits:
        digest = by_id.get(hit.chunk_id)
        if digest is None:
            out.append(hit)
            continue
        found = tuple(Copy(*row) for row in conn.execute(sql, (digest, collection.id, hit.chunk_id, MAX_COPIES)))
        out.append(replace(hit, copies=found) if found else hit)
    return out
