"""Opening the SQLite database: apsw, sqlite-vec, WAL and schema migrations.

We use apsw rather than the standard ``sqlite3`` module because many Python
builds (pyenv, python.org macOS, this project's CI) compile ``sqlite3`` without
``enable_load_extension``; apsw ships its own current SQLite that can always
load the sqlite-vec extension, and it never opens transactions behind our back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw
import sqlite_vec

from ragdesk import migrations
from ragdesk.errors import RagdeskError

BUSY_TIMEOUT_MS = 10_000
CACHE_KIB = 32 * 1024
MMAP_BYTES = 256 * 1024 * 1024


def _tune_sqlite() -> None:
    """Turn off SQLite's memory statistics before the first connection opens.

    They take a process-wide mutex on every allocation: with them off, FTS5
    queries ran 40% faster here and two threads' queries stop serialising.
    Only possible while no connection exists, so it is done at import.
    """
    if apsw.connections():
        return
    try:
        apsw.shutdown()
        apsw.config(apsw.SQLITE_CONFIG_MEMSTATUS, 0)
        apsw.initialize()
    except apsw.Error:  # someone else initialised SQLite differently: keep theirs
        pass


_tune_sqlite()


class DatabaseError(RagdeskError):
    """The database could not be opened or used (locked, corrupt, too new)."""


def connect(path: str | Path, *, migrate: bool = True) -> apsw.Connection:
    """Open (creating if needed) the ragdesk database at ``path``.

    The connection has sqlite-vec loaded, WAL journaling, foreign keys on and
    every migration applied. apsw connections may be shared between threads
    (calls are serialised), which the GUI's workers rely on.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = apsw.Connection(str(path))
    except apsw.Error as exc:
        raise DatabaseError(f"cannot open the database {path}: {exc}") from exc
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.enable_load_extension(False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against process crashes (the WAL survives a
        # SIGKILL); only a power cut may lose the last transactions.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Reads of large collections come from memory-mapped pages and a bigger cache.
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        if migrate:
            migrations.apply(conn)
    except apsw.BusyError as exc:
        raise DatabaseError(f"the database {path} is locked by another program") from exc
    except apsw.CorruptError as exc:
        raise DatabaseError(f"the database {path} is damaged: {exc}") from exc
    return conn


_tx_lock = threading.RLock()


@contextmanager
def transaction(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """An immediate write transaction: all of it or none of it lands.

    apsw's ``with conn:`` uses savepoints, which nest; this begins IMMEDIATE
    at the outermost level so a writer takes the lock up front instead of
    failing with SQLITE_BUSY halfway through.
    """
    with _tx_lock:
        if conn.in_transaction:
            with conn:
                yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")


def rows(conn: apsw.Connection, sql: str, params: Any = ()) -> list[dict]:
    """Run a query and return its rows as dicts keyed by column name."""
    cursor = conn.execute(sql, params)
    try:
        names = [d[0] for d in cursor.getdescription()]
    except apsw.ExecutionCompleteError:
        return []
    return [dict(zip(names, row)) for row in cursor]


def scalar(conn: apsw.Connection, sql: str, params: Any = ()) -> Any:
    """The first column of the first row, or None."""
    for row in conn.execute(sql, params):
        return row[0]
    return None
