"""An in-memory mirror of a collection's 1-bit vector codes, for the coarse pass at scale.

The codes live in the collection's vec0 table (``embedding_bits``). sqlite-vec's
own KNN over them costs time in proportion to k (about 12 ms for k=100 at 100k
chunks here), while numpy computes every Hamming distance in ~3 ms and can
afford hundreds of candidates, which the exact rescoring then orders. The
mirror is rebuilt when the collection's generation counter moves. A collection
with sentence windows has a second mirror, of its windows' codes, whose ids are
the windows' chunks (a chunk appears once per window).
"""

from __future__ import annotations

import apsw
import numpy as np

from ragdesk.ingest.windows import WINDOW_SLOTS
from ragdesk.store.collections import Collection


class BitIndex:
    """Chunk ids and their packed sign bits, as numpy arrays."""

    def __init__(self, generation: int, ids: np.ndarray, codes: np.ndarray) -> None:
        self.generation = generation
        self.ids = ids
        # Stored word-major, (dimension / 64, n): adding up one contiguous row
        # of popcounts per word is five times faster than summing across rows.
        self.words = np.ascontiguousarray(codes.T)

    @classmethod
    def load(cls, conn: apsw.Connection, collection: Collection, *, windows: bool = False) -> BitIndex:
        """The chunks' codes, or with ``windows`` the sentence windows' (ids: their chunks)."""
        generation = current_generation(conn, collection)
        if windows:
            rows = conn.execute(f"SELECT window_id, embedding_bits FROM {collection.win_table}").fetchall()
        else:
            rows = conn.execute(f"SELECT chunk_id, embedding_bits FROM {collection.vec_table}").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if windows:
            ids //= WINDOW_SLOTS
        words = max(1, collection.dimension // 64)
        codes = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint64).reshape(len(rows), words)
        return cls(generation, ids, codes)

    def __len__(self) -> int:
        return len(self.ids)

    def candidates(self, conn: apsw.Connection, query: np.ndarray, n: int) -> list[int]:
        """The ``n`` ids whose codes are nearest the query's (Hamming distance), in no order."""
        if not len(self.ids):
            return []
        blob = np.ascontiguousarray(query, dtype=np.float32).tobytes()
        # Quantise with sqlite-vec itself so query and stored bits match exactly.
        code = np.frombuffer(conn.execute("SELECT vec_quantize_binary(?)", (blob,)).fetchone()[0], dtype=np.uint64)
        distances = np.bitwise_count(self.words[0] ^ code[0]).astype(np.uint16)
        for w in range(1, len(self.words)):
            distances += np.bitwise_count(self.words[w] ^ code[w])
        if n < len(distances):
            chosen = np.argpartition(distances, n)[:n]
        else:
            chosen = np.arange(len(distances))
        return self.ids[chosen].tolist()


def current_generation(conn: apsw.Connection, collection: Collection) -> int:
    return int(conn.execute("SELECT generation FROM collections WHERE id = ?", (collection.id,)).fetchone()[0])
