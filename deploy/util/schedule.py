"""Cron expressions as systemd OnCalendar expressions, for the timers of periodic agents
whose definition (a cron `schedule`, as config.toml's [periodic.NAME] has it) comes from
inventory data. Both mean the host's local time."""

from __future__ import annotations

from pyinfra.api.exceptions import DeployError

_SHORTHANDS = {
    "@hourly": "hourly",
    "@daily": "daily",
    "@midnight": "daily",
    "@weekly": "Sun *-*-* 00:00:00",  # cron's week starts on Sunday, systemd's on Monday
    "@monthly": "*-*-01 00:00:00",
    "@yearly": "*-01-01 00:00:00",
    "@annually": "*-01-01 00:00:00",
}
_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def is_cron(schedule: str) -> bool:
    fields = schedule.split()
    return len(fields) == 5 or (len(fields) == 1 and fields[0].startswith("@"))


def on_calendar(name: str, cron: str) -> str:
    """The OnCalendar expression that fires when `cron` does; a DeployError naming the
    agent for what has no faithful translation (then give `on_calendar` yourself)."""
    if cron.strip() in _SHORTHANDS:
        return _SHORTHANDS[cron.strip()]
    fields = cron.split()
    if len(fields) != 5:
        raise _refuse(name, cron, "five fields, or @hourly/@daily/@weekly/@monthly/@yearly")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":  # cron fires on either; systemd on both
        raise _refuse(name, cron, "a day of month and a weekday together")
    try:
        date = f"*-{_field(month, 1, _MONTHS)}-{_field(day, 1)}"
        time = f"{_field(hour, 0)}:{_field(minute, 0)}:00"
        days = "" if weekday == "*" else _weekdays(weekday) + " "
    except ValueError as exc:
        raise _refuse(name, cron, str(exc)) from None
    return f"{days}{date} {time}"


def _refuse(name: str, cron: str, why: str) -> DeployError:
    return DeployError(
        f"periodic agent {name}: cannot turn {cron!r} into a systemd timer ({why}); "
        "give its timer an 'on_calendar' too"
    )


def _field(text: str, first: int, names: list[str] | None = None) -> str:
    """One cron field: *, N, a,b, a-b, */n, a/n -> systemd's *, NN, a,b, a..b, first/n."""
    if text == "*":
        return "*"
    parts = []
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            base = str(first)
        if "-" in base:
            if step:
                raise ValueError(f"a range with a step ({part})")
            low, high = base.split("-", 1)
            parts.append(f"{_number(low, names)}..{_number(high, names)}")
        else:
            parts.append(_number(base, names) + (f"/{int(step)}" if step else ""))
    return ",".join(parts)


def _number(text: str, names: list[str] | None) -> str:
    if names and text.lower()[:3] in names:
        return f"{names.index(text.lower()[:3]) + 1:02d}"
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number")
    return f"{int(text):02d}"


def _weekdays(text: str) -> str:
    def day(value: str) -> str:
        if value.isdigit() and int(value) <= 7:
            return _DAYS[int(value)]
        found = [d for d in _DAYS if d.lower() == value.lower()[:3]]
        if not found:
            raise ValueError(f"{value!r} is not a weekday")
        return found[0]

    out = []
    for part in text.split(","):
        if "/" in part:
            raise ValueError(f"a weekday step ({part})")
        low, _, high = part.partition("-")
        out.append(f"{day(low)}..{day(high)}" if high else day(low))
    return ",".join(out)
