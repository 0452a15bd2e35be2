"""Scheduled tasks: cron, interval and once, per group.

A task's `spec` is a cron expression (cron), a number of seconds (interval) or an ISO 8601
time (once). `next_run_at` is kept in UTC ISO text so due tasks are a simple comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from sqlite_utils import Database

from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import NotFoundError, UsageError

KINDS = ("cron", "interval", "once")
STATUSES = ("active", "paused", "cancelled", "done")


@dataclass
class TaskJob:
    """A claimed task run, waiting for its group's worker (serve)."""

    task_id: int
    task_run_id: int
    prompt: str


def _now() -> datetime:
    return datetime.now(UTC)


def parse_interval(spec: str) -> int:
    """Seconds from '90', '90s', '15m', '2h' or '1d'."""
    text = spec.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except (ValueError, IndexError):
        raise UsageError(f"bad interval {spec!r}", "Use seconds or 30s, 15m, 2h, 1d") from None
    if seconds < 1:
        raise UsageError(f"interval {spec!r} must be at least one second")
    return seconds


def next_run(kind: str, spec: str, after: datetime | None = None) -> datetime | None:
    after = after or _now()
    if kind == "cron":
        # Cron expressions mean the machine's local time, as in crontab.
        return croniter(spec, after.astimezone()).get_next(datetime).astimezone(UTC)
    if kind == "interval":
        return after + timedelta(seconds=parse_interval(spec))
    return None


def shortest_gap(kind: str, spec: str, samples: int = 200) -> float | None:
    """The shortest time in seconds between two runs of a task (None for a task that runs
    once). For cron, the least gap among the next `samples` firings: enough to see a
    minute-level (or croniter's seconds-field) pattern repeat."""
    if kind == "interval":
        return float(parse_interval(spec))
    if kind != "cron":
        return None
    validate(kind, spec)
    times = croniter(spec, _now().astimezone())
    previous = times.get_next(datetime)
    gap = None
    for _ in range(samples):
        current = times.get_next(datetime)
        step = (current - previous).total_seconds()
        gap = step if gap is None else min(gap, step)
        previous = current
    return gap


def validate(kind: str, spec: str) -> str:
    if kind not in KINDS:
        raise UsageError(f"unknown task kind {kind!r}", "Use cron, interval or once")
    if kind == "cron" and not croniter.is_valid(spec):
        raise UsageError(f"bad cron expression {spec!r}", 'Five fields, e.g. "*/5 * * * *"')
    if kind == "interval":
        parse_interval(spec)
    if kind == "once":
        try:
            when = datetime.fromisoformat(spec)
        except ValueError:
            raise UsageError(f"bad time {spec!r}", "Use ISO 8601, e.g. 2026-12-01T09:00") from None
        if when.tzinfo is None:
            when = when.astimezone()  # local time, as the person meant it
        return when.astimezone(UTC).isoformat(timespec="microseconds")
    return spec


def add_task(
    db: Database,
    group_id: int,
    prompt: str,
    kind: str,
    spec: str,
    *,
    name: str | None = None,
    created_by: str = "person",
) -> dict[str, Any]:
    if not prompt.strip():
        raise UsageError("a task needs a prompt", "Say what the agent should do")
    spec = validate(kind, spec)
    first = spec if kind == "once" else next_run(kind, spec).isoformat(timespec="microseconds")
    table = db["tasks"]
    table.insert(
        {
            "group_id": group_id,
            "name": name,
            "prompt": prompt,
            "kind": kind,
            "spec": spec,
            "status": "active",
            "next_run_at": first,
            "created_by": created_by,
            "created_at": utcnow(),
        }
    )
    return get_task(db, table.last_pk)


def get_task(db: Database, task_id: int, group_id: int | None = None) -> dict[str, Any]:
    rows = list(
        db.query(
            "select tasks.*, groups.name as group_name from tasks join groups"
            " on groups.id = tasks.group_id where tasks.id = ?",
            [task_id],
        )
    )
    if not rows or (group_id is not None and rows[0]["group_id"] != group_id):
        raise NotFoundError(f"no task {task_id}", "List tasks with: pynchy tasks list")
    return rows[0]


def list_tasks(
    db: Database, group_id: int | None = None, *, include_ended: bool = False
) -> list[dict[str, Any]]:
    clauses, params = [], []
    if group_id is not None:
        clauses.append("tasks.group_id = ?")
        params.append(group_id)
    if not include_ended:
        clauses.append("tasks.status in ('active', 'paused')")
    where = ("where " + " and ".join(clauses)) if clauses else ""
    return list(
        db.query(
            "select tasks.*, groups.name as group_name from tasks join groups"
            f" on groups.id = tasks.group_id {where} order by tasks.id",
            params,
        )
    )


def set_status(
    db: Database, task_id: int, status: str, group_id: int | None = None
) -> dict[str, Any]:
    task = get_task(db, task_id, group_id)
    if task["status"] in ("cancelled", "done"):
        raise UsageError(f"task {task_id} is {task['status']}", "Add a new task instead")
    fields: dict[str, Any] = {"status": status}
    if status == "active" and task["kind"] != "once":
        # Resuming skips the runs missed while paused.
        fields["next_run_at"] = next_run(task["kind"], task["spec"]).isoformat(
            timespec="microseconds"
        )
    db["tasks"].update(task_id, fields)
    return get_task(db, task_id)


def task_runs(db: Database, task_id: int, limit: int = 20) -> list[dict[str, Any]]:
    return list(
        db.query(
            "select * from task_runs where task_id = ? order by due_at desc limit ?",
            [task_id, limit],
        )
    )


def get_task_by_name(db: Database, name: str) -> dict[str, Any]:
    rows = list(db.query("select id from tasks where name = ? order by id desc", [name]))
    if not rows:
        raise NotFoundError(
            f"no task named {name!r}", "Name one with: pynchy tasks add --name NAME ..."
        )
    return get_task(db, rows[0]["id"])


def start_task_run(db: Database, task_id: int, due_at: str) -> int:
    """Record that a task runs now (for runs started outside serve's scheduler)."""
    table = db["task_runs"]
    table.insert(
        {"task_id": task_id, "due_at": due_at, "status": "claimed", "started_at": utcnow()}
    )
    return table.last_pk


def finish_task_run(
    db: Database, task_run_id: int, run_id: str | None, status: str, error: str | None
) -> None:
    db["task_runs"].update(
        task_run_id,
        {"status": status, "run_id": run_id, "error": error, "finished_at": utcnow()},
    )
