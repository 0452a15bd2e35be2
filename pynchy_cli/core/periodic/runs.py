"""The periodic_runs table: one row per (agent, due time), inserted to claim it.

The unique index on (name, due_at) makes a second claim fail, whichever process tries:
serve's scheduler and a timer's `pynchy agent run --periodic NAME` racing on the same due
time run it once.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.db import utcnow

STATUSES = ("running", "ok", "failed", "skipped")


def claim_run(
    db: Database, name: str, due_at: str, *, trigger: str, group: str | None = None
) -> int | None:
    """The new row's id, or None when this due time was already claimed."""
    try:
        with db.conn:  # its own transaction: committed before the run starts
            cursor = db.conn.execute(
                "insert into periodic_runs (name, due_at, trigger, group_name, status,"
                " started_at) values (?, ?, ?, ?, 'running', ?)",
                [name, due_at, trigger, group, utcnow()],
            )
    except sqlite3.IntegrityError:
        return None
    return cursor.lastrowid


def finish_run(
    db: Database,
    claim_id: int,
    status: str,
    summary: str | None = None,
    run_id: str | None = None,
) -> None:
    assert status in STATUSES, status
    db["periodic_runs"].update(
        claim_id,
        {"status": status, "summary": summary, "run_id": run_id, "finished_at": utcnow()},
    )


def recent_periodic_runs(db: Database, since: datetime | str) -> list[dict[str, Any]]:
    """Runs started since a time, newest first: name, due_at, started_at, finished_at,
    status (running | ok | failed | skipped), summary, trigger, run_id, group_name."""
    after = since if isinstance(since, str) else since.isoformat(timespec="microseconds")
    if not db["periodic_runs"].exists():
        return []
    return list(
        db.query(
            "select name, due_at, started_at, finished_at, status, summary, trigger, run_id,"
            " group_name from periodic_runs where started_at >= ? order by started_at desc",
            [after],
        )
    )


def last_runs(db: Database) -> dict[str, dict[str, Any]]:
    """Each agent's latest run, by name."""
    return {
        row["name"]: row
        for row in db.query(
            "select * from periodic_runs where id in (select max(id) from periodic_runs"
            " group by name)"
        )
    }
