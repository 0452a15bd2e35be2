"""Due times of a cron schedule. A due time is the schedule's latest firing at or before
now, so a timer that fires a few seconds late claims the same due time serve would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import croniter

_TICK = timedelta(microseconds=1)  # croniter's get_prev is strictly before its start


def due_time(schedule: str, now: datetime | None = None) -> datetime:
    """The latest firing at or before `now` (UTC). Cron means the machine's local time."""
    now = now or datetime.now(UTC)
    return croniter(schedule, (now + _TICK).astimezone()).get_prev(datetime).astimezone(UTC)


def next_due(schedule: str, now: datetime | None = None) -> datetime:
    """The first firing after `now` (UTC)."""
    now = now or datetime.now(UTC)
    return croniter(schedule, now.astimezone()).get_next(datetime).astimezone(UTC)


def stamp(when: datetime) -> str:
    """The text form due times are stored and compared in."""
    return when.astimezone(UTC).isoformat(timespec="seconds")
