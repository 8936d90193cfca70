"""A database as an earlier ragdesk wrote it: the migrations shipped before a given one, applied."""

from __future__ import annotations

from pathlib import Path

import apsw

from ragdesk import migrations


def database_before(path: Path, migration: str, monkeypatch) -> apsw.Connection:
    """Open ``path`` with every migration before ``migration`` applied, by the real runner.

    The full list is restored afterwards, so the test's next ``migrations.apply``
    brings the database forward the way an upgrade does.
    """
    shipped = list(migrations.MIGRATIONS)
    before = [name for name, _ in shipped].index(migration)
    conn = apsw.Connection(str(path))
    monkeypatch.setattr(migrations, "MIGRATIONS", shipped[:before])
    migrations.apply(conn)
    monkeypatch.setattr(migrations, "MIGRATIONS", shipped)
    return conn
