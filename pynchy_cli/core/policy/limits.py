"""Rate limits and the schedule floor: how often a group's agents may call a tool, and
how often a task they schedule may fire.

Rate limits are sliding windows per group, counted from the audit table (calls that were
allowed or approved), so they hold across runs, processes and restarts.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from pynchy_cli.core import tasks
from pynchy_cli.core.policy.audit_log import COUNTED

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_UNITS.update({unit + "s": size for unit, size in list(_UNITS.items())})


def parse_rate(text: str) -> tuple[int, int]:
    """(calls, seconds) from "20/minute", "300/hour", "5/day" or "10/15m"."""
    count, _, per = str(text).partition("/")
    per = per.strip().lower()
    try:
        calls = int(count)
        seconds = _UNITS[per] if per in _UNITS else tasks.parse_interval(per)
    except Exception:
        raise ValueError(
            f"rate {text!r} must look like 20/minute, 300/hour, 5/day or 10/15m"
        ) from None
    if calls < 0:
        raise ValueError(f"rate {text!r} must allow zero or more calls")
    return calls, seconds


def _since(seconds: int) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def calls_in_window(db: Database, group_id: int, pattern: str, seconds: int) -> int:
    """Calls of tools matching `pattern` (fnmatch) this group made in the last `seconds`."""
    row = db.execute(
        "select count(*) from audit where group_id = ? and at >= ? and action glob ?"
        f" and decision in ({', '.join('?' * len(COUNTED))})",
        [group_id, _since(seconds), "tool:" + pattern, *COUNTED],
    ).fetchone()
    return int(row[0])


def over_limit(db: Database, group_id: int, tool: str, rate_limits: dict[str, str]) -> str | None:
    """Why one more call of `tool` would pass a limit, or None."""
    for pattern, rate in rate_limits.items():
        if not fnmatch.fnmatchcase(tool, pattern):
            continue
        calls, seconds = parse_rate(rate)
        if calls_in_window(db, group_id, pattern, seconds) >= calls:
            which = tool if pattern == tool else f"tools matching {pattern}"
            return f"rate limit: {which} at most {rate} for this group; try again later"
    return None


def _every(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def schedule_problem(
    db: Database, group_id: int, arguments: dict, floor: str, max_active: int
) -> str | None:
    """Why an agent may not schedule this task, or None: it would fire more often than the
    profile's floor, or the group has as many active tasks as it may."""
    kind, spec = arguments.get("kind"), arguments.get("spec")
    if isinstance(kind, str) and isinstance(spec, str):
        try:
            gap = tasks.shortest_gap(kind, spec)
        except Exception:  # a bad spec: add_task says why
            gap = None
        least = tasks.parse_interval(floor)
        if gap is not None and gap < least:
            return (
                f"this task would run every {_every(gap)}; agents of this group may schedule"
                f" at most every {_every(least)}"
            )
    active = len([t for t in tasks.list_tasks(db, group_id) if t["status"] == "active"])
    if active >= max_active:
        return f"this group already has {active} active tasks (at most {max_active})"
    return None
