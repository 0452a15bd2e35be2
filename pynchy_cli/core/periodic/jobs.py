"""Claiming a periodic agent's due time and what its run is given.

Both runners use these: serve's scheduler (core.serve.scheduler, which hands a claimed
PeriodicJob to the group's worker) and the command line (core.periodic.runner: a timer's
`pynchy agent run --periodic NAME`, and `pynchy periodic run NAME`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.groups import Group, find_group
from pynchy_cli.core.periodic import runs
from pynchy_cli.core.periodic.definition import PeriodicAgent
from pynchy_cli.core.periodic.schedule import due_time, stamp

log = logging.getLogger("pynchy.periodic")

# Serve runs a due time it finds at most this late (serve was restarting, or busy);
# older ones it leaves: a timer or cron line catches up its own misses (Persistent=true).
SERVE_GRACE = timedelta(minutes=10)


@dataclass
class PeriodicJob:
    """A claimed due time of a periodic agent, waiting for its group's worker."""

    agent: PeriodicAgent
    claim_id: int
    due_at: str
    task_id: None = None  # the worker's task runs carry one; a periodic run has none

    @property
    def prompt(self) -> str:
        return self.agent.prompt

    @property
    def label(self) -> str:
        return f"Periodic agent {self.agent.name}"


def run_group(group: Group, agent: PeriodicAgent) -> Group:
    """The group as the run sees it: the agent's model, account and security profile."""
    return replace(
        group,
        model=agent.model or group.model,
        account=agent.account or group.account,
        profile=agent.profile or group.profile,
    )


def missing_group(agent: PeriodicAgent) -> str:
    return (
        f"periodic agent {agent.name}: no group named {agent.group!r}"
        f" (add it with: pynchy groups add {agent.group}, or change [periodic.{agent.name}] group)"
    )


def over_budget(db: Database, agent: PeriodicAgent, now: datetime | None = None) -> str | None:
    """Why this run is skipped when the agent's runs spent its budget (USD a day)."""
    if agent.budget is None:
        return None
    from pynchy_cli.core.budgets import period_bounds

    start, _ = period_bounds("daily", now)
    row = db.execute(
        "select coalesce(sum(runs.cost_usd), 0) from periodic_runs join runs on"
        " runs.id = periodic_runs.run_id where periodic_runs.name = ?"
        " and periodic_runs.started_at >= ?",
        [agent.name, start.isoformat(timespec="microseconds")],
    ).fetchone()
    used = float(row[0] or 0)
    if used >= agent.budget:
        return f"its budget of ${agent.budget:.2f} a day is spent (${used:.2f})"
    return None


def claim_due(
    db: Database,
    agent: PeriodicAgent,
    *,
    trigger: str,
    now: datetime | None = None,
    grace: timedelta | None = None,
) -> tuple[int, str] | None:
    """Claim the agent's latest due time (at or before now): (claim id, due time), or
    None when it is already claimed (by anyone) or older than `grace`."""
    now = now or datetime.now(UTC)
    due = due_time(agent.schedule, now)
    if grace is not None and now - due > grace:
        return None
    due_at = stamp(due)
    claim_id = runs.claim_run(db, agent.name, due_at, trigger=trigger, group=agent.group)
    return None if claim_id is None else (claim_id, due_at)


def claim_now(db: Database, agent: PeriodicAgent, *, trigger: str = "manual") -> tuple[int, str]:
    """A run asked for by hand: its own due time (now), so it never takes a scheduled one."""
    now = datetime.now(UTC)
    while True:
        due_at = f"{now.isoformat(timespec='microseconds')} {trigger}"
        claim_id = runs.claim_run(db, agent.name, due_at, trigger=trigger, group=agent.group)
        if claim_id is not None:
            return claim_id, due_at
        now += timedelta(microseconds=1)


def serve_due_jobs(
    db: Database, agents: dict[str, PeriodicAgent], now: datetime | None = None
) -> list[tuple[int, PeriodicJob]]:
    """Serve's share of a tick: (group id, job) for each enabled agent whose due time it
    claimed. An agent whose group does not exist fails its due time with why (logged)."""
    out = []
    for agent in agents.values():
        if not agent.enabled:
            continue
        claimed = claim_due(db, agent, trigger="serve", now=now, grace=SERVE_GRACE)
        if claimed is None:
            continue
        claim_id, due_at = claimed
        group = find_group(db, agent.group)
        if group is None:
            why = missing_group(agent)
            runs.finish_run(db, claim_id, "failed", why)
            log.error("%s", why)
            continue
        log.info("periodic due agent=%s group=%s due=%s", agent.name, group.name, due_at)
        out.append((group.id, PeriodicJob(agent, claim_id, due_at)))
    return out


def settle_interrupted(db: Database) -> int:
    """Serve's claims a crash left running: failed, with why (a due time is not rerun)."""
    rows = list(
        db.query("select id from periodic_runs where status = 'running' and trigger = 'serve'")
    )
    for row in rows:
        runs.finish_run(db, row["id"], "failed", "serve stopped before the run finished")
    return len(rows)


def first_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe(job: Any) -> str:
    return getattr(job, "label", None) or f"Scheduled task {job.task_id}"
