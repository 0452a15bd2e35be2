"""How this pynchy is doing, in one report: `pynchy status`, serve's /status and web
status page, and the shipped health-report agent all show this.

Facts: the deployed version, serve's uptime, the periodic agents' runs of the last day,
conversations (groups with messages from people) since serve started and in the past
day, errors in the logs (grouped, when the structured logs are there), and budget use.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pynchy_cli.core.periodic.runs import recent_periodic_runs

DAY = timedelta(hours=24)


@dataclass
class HealthReport:
    version: str  # "git 1a2b3c4d5e6f" of a checkout install, else the package version
    serve_started_at: str | None  # None: serve is not running (or not known here)
    uptime_s: float | None
    periodic: list[dict[str, Any]]  # runs started in the last 24 h, newest first
    conversations_since_start: int | None
    conversations_day: int
    errors: list[dict[str, Any]]  # {key, count, first, last, sample}, most frequent first
    logs_available: bool
    budgets: list[dict[str, Any]]  # {owner, period, unit, limit, spent}
    spent_today_usd: float
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """Plain text, one fact a line (a chat message, a terminal)."""
        out = [f"version: {self.version}"]
        out.append(
            f"uptime: {format_duration(self.uptime_s)} (since {self.serve_started_at})"
            if self.uptime_s is not None
            else "uptime: serve is not running"
        )
        since = (
            f"{self.conversations_since_start} since serve started, "
            if self.conversations_since_start is not None
            else ""
        )
        out.append(f"conversations: {since}{self.conversations_day} in the past day")
        if self.periodic:
            out.append(f"periodic agents, last 24 h: {periodic_summary(self.periodic)}")
        else:
            out.append("periodic agents, last 24 h: none ran")
        if not self.logs_available:
            out.append("errors in the log: logs: not available")
        elif self.errors:
            total = sum(e["count"] for e in self.errors)
            top = "; ".join(f"{e['key']} x{e['count']}" for e in self.errors[:3])
            out.append(f"errors in the log, last 24 h: {total} ({top})")
        else:
            out.append("errors in the log, last 24 h: 0")
        spend = f"${self.spent_today_usd:.2f} today"
        caps = ", ".join(
            f"{b['owner']} {b['period']} {b['spent_text']} of {b['limit_text']}"
            for b in self.budgets
        )
        out.append(f"budget: {spend}" + (f"; {caps}" if caps else "; no caps set"))
        return out


def health_report(
    ctx: Any, serve_status: dict[str, Any] | None = None, now: datetime | None = None
) -> HealthReport:
    """Gather the report. `serve_status`: serve's own status (its started_at), when the
    caller is serve or asked it; without it, serve's uptime is unknown."""
    now = now or datetime.now(UTC)
    db = ctx.db
    day_ago = now - DAY
    started = (serve_status or {}).get("started_at")
    uptime = None
    if started:
        uptime = max(0.0, (now - datetime.fromisoformat(started)).total_seconds())
    errors, available = _log_errors(ctx, day_ago)
    return HealthReport(
        version=deployed_version(ctx.settings),
        serve_started_at=started,
        uptime_s=uptime,
        periodic=recent_periodic_runs(db, day_ago),
        conversations_since_start=_conversations(db, started) if started else None,
        conversations_day=_conversations(db, day_ago.isoformat(timespec="microseconds")),
        errors=errors,
        logs_available=available,
        budgets=_budgets(ctx, now),
        spent_today_usd=_spent_today(db, now),
    )


def periodic_summary(runs: list[dict[str, Any]]) -> str:
    """'health-report ok, security-sweep failed (why)': each agent's latest run."""
    latest: dict[str, dict[str, Any]] = {}
    for run in runs:  # newest first
        latest.setdefault(run["name"], run)
    parts = []
    for name, run in sorted(latest.items()):
        count = sum(1 for r in runs if r["name"] == name)
        times = f" ({count} runs)" if count > 1 else ""
        why = (
            f": {run['summary']}"
            if run["status"] in ("failed", "skipped") and run["summary"]
            else ""
        )
        parts.append(f"{name} {run['status']}{times}{why}")
    return ", ".join(parts)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def deployed_version(settings: Any) -> str:
    """The git revision of a checkout install, else the package's version."""
    return _version_of(getattr(getattr(settings, "admin", None), "install_dir", None))


@functools.cache  # once a process: an update restarts serve
def _version_of(install_dir: str | None) -> str:
    from pynchy_cli import __version__
    from pynchy_cli.core.update.install import find_install

    try:
        install = find_install(install_dir)
    except Exception:  # an odd install must not break a status report
        return __version__
    if install.kind != "checkout":
        return __version__
    try:
        head = subprocess.run(
            ["git", "-C", install.where, "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"git {head} ({__version__})" if head else __version__


def _conversations(db: Any, since: str) -> int:
    row = db.execute(
        "select count(distinct group_id) from messages where sender_kind = 'person'"
        " and created_at >= ?",
        [since],
    ).fetchone()
    return int(row[0] or 0)


def _log_errors(ctx: Any, since: datetime) -> tuple[list[dict[str, Any]], bool]:
    try:
        from pynchy_cli.core.logs import error_groups
    except ImportError:
        return [], False
    try:
        groups = error_groups(ctx.paths, since)
    except Exception:  # unreadable logs: say so rather than fail the report
        return [], False
    return [_error_dict(g) for g in groups], True


def _error_dict(group: Any) -> dict[str, Any]:
    data = asdict(group) if hasattr(group, "__dataclass_fields__") else dict(group)
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


def _budgets(ctx: Any, now: datetime) -> list[dict[str, Any]]:
    from pynchy_cli.core.budgets import caps_for, spent
    from pynchy_cli.core.groups import list_groups

    seen, out = set(), []
    for group in list_groups(ctx.db):
        account = group.account or ctx.settings.account
        for cap in caps_for(ctx.db, ctx.settings, group, account):
            if cap in seen:
                continue
            seen.add(cap)
            used = spent(ctx.db, cap, now)
            out.append(
                {
                    "owner": cap.owner,
                    "period": cap.period,
                    "unit": cap.unit,
                    "limit": cap.limit,
                    "spent": used,
                    "limit_text": cap.amount(cap.limit),
                    "spent_text": cap.amount(used),
                }
            )
    return out


def _spent_today(db: Any, now: datetime) -> float:
    from pynchy_cli.core.budgets import period_bounds

    start, _ = period_bounds("daily", now)
    row = db.execute(
        "select coalesce(sum(cost_usd), 0) from runs where started_at >= ?",
        [start.isoformat(timespec="microseconds")],
    ).fetchone()
    return float(row[0] or 0)
