"""The database: SQLite in WAL mode through sqlite-utils, migrated on open."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from pynchy_cli.core.errors import ConflictError, UnavailableError
from pynchy_cli.core.file_modes import PRIVATE_FILE, private_file, tighten
from pynchy_cli.core.migrations import MIGRATIONS


def utcnow() -> str:
    """Timestamps are ISO 8601 UTC strings: they sort and compare as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def open_db(path: Path) -> Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 600 before SQLite opens it: SQLite gives the -wal and -shm files its mode.
    private_file(path)
    for suffix in ("-wal", "-shm"):
        tighten(path.with_name(path.name + suffix), PRIVATE_FILE, quiet=True)
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
    except sqlite3.DatabaseError as exc:
        raise UnavailableError(
            f"cannot open the database {path} ({exc})",
            "Move the file aside to start fresh, or restore it from a backup",
        ) from exc
    db = Database(conn)
    _check_not_newer(db, path)
    MIGRATIONS.apply(db)
    return db


def _check_not_newer(db: Database, path: Path) -> None:
    known = {m.name for m in MIGRATIONS.pending(Database(memory=True))}
    unknown = [m.name for m in MIGRATIONS.applied(db) if m.name not in known]
    if unknown:
        raise ConflictError(
            f"the database {path} was written by a newer pynchy (migration {unknown[-1]})",
            "Upgrade pynchy (pip install -U pynchy); the database was not changed",
        )
