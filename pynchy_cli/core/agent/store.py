"""Runs, their transcripts (run events), sessions and the audit log, in the database."""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import NotFoundError

# interrupted: its host process ended (a kill -9 of serve) before the run answered
FINISHED = ("succeeded", "failed", "stopped", "timeout", "interrupted")


def new_run_id() -> str:
    return secrets.token_hex(4)


def create_run(db: Database, run_id: str, group_id: int, **fields: Any) -> None:
    fields.setdefault("owner_pid", os.getpid())
    db["runs"].insert(
        {"id": run_id, "group_id": group_id, "status": "running", "started_at": utcnow(), **fields}
    )


def update_run(db: Database, run_id: str, **fields: Any) -> None:
    db["runs"].update(run_id, fields)


def finish_run(db: Database, run_id: str, status: str, **fields: Any) -> None:
    db["runs"].update(run_id, {"status": status, "finished_at": utcnow(), **fields})


def add_usage(
    db: Database, run_id: str, input_tokens: int, output_tokens: int, cost: float | None
) -> None:
    # An unknown cost (None) makes the run's cost unknown (null), never zero.
    db.execute(
        "update runs set input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
        " cost_usd = cost_usd + ? where id = ?",
        [input_tokens, output_tokens, cost, run_id],
    )


def add_event(db: Database, run_id: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    row = db.execute(
        "insert into run_events (run_id, seq, kind, data, created_at) values"
        " (?, coalesce((select max(seq) from run_events where run_id = ?), 0) + 1, ?, ?, ?)"
        " returning seq, created_at",
        [run_id, run_id, kind, json.dumps(data), utcnow()],
    ).fetchone()
    return {"run_id": run_id, "seq": row[0], "kind": kind, "data": data, "at": row[1]}


def get_run(db: Database, run_id: str) -> dict[str, Any]:
    rows = list(
        db.query(
            "select runs.*, groups.name as group_name from runs join groups"
            " on groups.id = runs.group_id where runs.id = ?",
            [run_id],
        )
    )
    if not rows:
        matches = list(db.query("select id from runs where id like ?", [run_id + "%"]))
        if len(matches) == 1:
            return get_run(db, matches[0]["id"])
        raise NotFoundError(f"no run {run_id!r}", "List runs with: pynchy agent ps --all")
    return rows[0]


def list_runs(db: Database, *, include_finished: bool = False, limit: int = 50) -> list[dict]:
    where = "" if include_finished else "where runs.status in ('queued', 'running')"
    return list(
        db.query(
            "select runs.id, groups.name as group_name, runs.status, runs.model, runs.runtime,"
            " runs.container, runs.started_at, runs.finished_at, runs.input_tokens,"
            " runs.output_tokens, runs.cost_usd, runs.parent_run_id, runs.link, runs.agent,"
            " runs.node"
            " from runs join groups on groups.id = runs.group_id "
            f"{where} order by runs.started_at desc limit ?",
            [limit],
        )
    )


def linked_runs(db: Database, run_id: str) -> list[dict[str, Any]]:
    """The runs this run started (delegates, and the run it handed off to), oldest first."""
    return list(
        db.query(
            "select id, status, link, agent, model, depth, result, error, started_at,"
            " finished_at, input_tokens, output_tokens, cost_usd from runs"
            " where parent_run_id = ? order by started_at, rowid",
            [run_id],
        )
    )


def events(db: Database, run_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
    return [
        {"seq": r["seq"], "kind": r["kind"], "data": json.loads(r["data"]), "at": r["created_at"]}
        for r in db.query(
            "select seq, kind, data, created_at from run_events where run_id = ? and seq > ?"
            " order by seq",
            [run_id, after_seq],
        )
    ]


def audit(
    db: Database,
    action: str,
    decision: str,
    *,
    run_id: str | None = None,
    group_id: int | None = None,
    **detail: Any,
) -> None:
    db["audit"].insert(
        {
            "at": utcnow(),
            "run_id": run_id,
            "group_id": group_id,
            "action": action,
            "decision": decision,
            "detail": json.dumps(detail, default=str),
        }
    )


# --- sessions: a group's conversation history, resumable -----------------------------------


def load_session(db: Database, session_id: str | None) -> list[dict[str, Any]]:
    if not session_id:
        return []
    rows = list(db.query("select history from sessions where id = ?", [session_id]))
    return json.loads(rows[0]["history"]) if rows else []


def save_session(
    db: Database, session_id: str, group_id: int, history: list[dict[str, Any]]
) -> None:
    now = utcnow()
    db.execute(
        "insert into sessions (id, group_id, history, created_at, updated_at)"
        " values (?, ?, ?, ?, ?) on conflict(id) do update set history = excluded.history,"
        " updated_at = excluded.updated_at",
        [session_id, group_id, json.dumps(history), now, now],
    )


def session_agent(db: Database, session_id: str | None) -> str | None:
    """The agent profile that holds this session (after a handoff), or None."""
    if not session_id:
        return None
    rows = list(db.query("select agent from sessions where id = ?", [session_id]))
    return rows[0]["agent"] if rows else None


def set_session_agent(db: Database, session_id: str, agent: str | None) -> None:
    db.execute("update sessions set agent = ? where id = ?", [agent, session_id])


def new_session_id() -> str:
    return "s-" + secrets.token_hex(6)
