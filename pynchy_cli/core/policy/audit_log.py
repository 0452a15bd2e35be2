"""The audit table as the gate writes and `pynchy audit` reads it.

One row per tool decision (action `tool:NAME`): the decision, the tier, the reason and
the arguments; once the call has run, its outcome (`ok` or `error`, with a short error).
Other rows (socket refusals, warnings, hook failures) come from core.agent.store.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynchy_cli.core.errors import UsageError

if TYPE_CHECKING:  # `pynchy audit --help` quotes DECISIONS: no sqlite-utils for that
    from sqlite_utils import Database

DECISIONS = ("allowed", "approved", "refused", "denied", "expired", "rate_limited", "inherited")
COUNTED = ("allowed", "approved")  # the call ran
TAINTING = (*COUNTED, "inherited")  # rows whose taint a session carries
MAX_ERROR = 300  # characters of a failed call's error kept in the row
_AGE_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def record_decision(
    db: Database,
    tool: str,
    decision: str,
    tier: str | None,
    *,
    run_id: str | None,
    group_id: int | None,
    **detail: Any,
) -> int:
    """Record one decision about a tool call; returns the row id for its outcome."""
    from pynchy_cli.core.db import utcnow

    row = {
        "at": utcnow(),
        "run_id": run_id,
        "group_id": group_id,
        "action": f"tool:{tool}",
        "decision": decision,
        "tier": tier,
        "detail": json.dumps(detail, default=str),
    }
    return int(db["audit"].insert(row).last_pk)


def record_outcome(db: Database, audit_id: int, content: str, is_error: bool) -> None:
    """What an allowed call then did: ok, or an error with its first line."""
    error = None
    if is_error:
        first = (content.strip().splitlines() or ["error"])[0]
        error = first if len(first) <= MAX_ERROR else first[: MAX_ERROR - 1] + "…"
    db["audit"].update(audit_id, {"outcome": "error" if is_error else "ok", "error": error})


def session_taint(db: Database, session_id: str | None) -> tuple[str, str] | None:
    """(tool, flag) of the first call in this session that read untrusted content or
    secret data: what the session's history carries into a resumed run."""
    if not session_id:
        return None
    rows = list(
        db.query(
            "select audit.action, json_extract(audit.detail, '$.taints') as taint from audit"
            " join runs on runs.id = audit.run_id where runs.session_id = ?"
            " and json_extract(audit.detail, '$.taints') is not null"
            f" and audit.decision in ({', '.join('?' * len(TAINTING))}) order by audit.id limit 1",
            [session_id, *TAINTING],
        )
    )
    return (rows[0]["action"].removeprefix("tool:"), rows[0]["taint"]) if rows else None


def parse_since(text: str) -> str:
    """An ISO UTC timestamp from an ISO time (local time when no zone is given) or an age
    such as 30m, 2h, 1d, 1w."""
    age = _AGE_RE.match(text)
    if age:
        seconds = int(age.group(1)) * _AGE_UNITS[age.group(2).lower()]
        when = datetime.now(UTC) - timedelta(seconds=seconds)
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise UsageError(
                f"bad --since {text!r}",
                "Use an ISO time such as 2026-05-01T09:00 or an age such as 30m, 2h, 1d",
            ) from None
        if when.tzinfo is None:
            when = when.astimezone()  # local time, as the person meant it
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def list_rows(
    db: Database,
    *,
    group_id: int | None = None,
    tool: str | None = None,
    decision: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest `limit` audit rows that match, oldest first (as a log reads)."""
    clauses, params = [], []
    if group_id is not None:
        clauses.append("audit.group_id = ?")
        params.append(group_id)
    if tool:
        clauses.append("audit.action glob ?")  # a pattern such as mcp__git__* works too
        params.append(f"tool:{tool}")
    if decision:
        clauses.append("audit.decision = ?")
        params.append(decision)
    if since:
        clauses.append("audit.at >= ?")
        params.append(since)
    where = ("where " + " and ".join(clauses)) if clauses else ""
    rows = db.query(
        "select audit.id, audit.at, groups.name as group_name, audit.run_id, audit.action,"
        " audit.decision, audit.tier, audit.outcome, audit.error, audit.detail from audit"
        f" left join groups on groups.id = audit.group_id {where}"
        " order by audit.id desc limit ?",
        [*params, limit],
    )
    out = []
    for row in rows:
        detail = json.loads(row.pop("detail") or "{}")
        reason = detail.get("reason") or detail.get("message") or detail.get("error")
        out.append({**row, "reason": reason, "detail": detail})
    return out[::-1]
