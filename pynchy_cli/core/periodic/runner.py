"""A periodic agent run from the command line: a timer's or cron line's
`pynchy agent run --periodic NAME` (claims the schedule's latest due time, so serve does
not run it again) and `pynchy periodic run NAME` (runs it now, once).

The answer goes to the group's channel: it is recorded in the outbox under a
`periodic:` key, which serve sends within a second when it runs (its scheduler relays
them) or when it starts. A failure is a host message in the group, sent the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import NotFoundError
from pynchy_cli.core.groups import Group, add_group, find_group, get_group, list_groups
from pynchy_cli.core.periodic import runs
from pynchy_cli.core.periodic.definition import PeriodicAgent
from pynchy_cli.core.periodic.jobs import (
    claim_due,
    claim_now,
    first_line,
    missing_group,
    over_budget,
    run_group,
)
from pynchy_cli.core.periodic.schedule import due_time

RELAY_PREFIX = "periodic:"  # outbound keys serve sends for other processes
FIRST_GROUP = "main"  # the admin group serve and `agent run` make when there is none


@dataclass
class PeriodicResult:
    name: str
    due_at: str | None  # None: that due time had been claimed already
    status: str  # ok | failed | skipped | taken (someone else ran this due time)
    summary: str = ""
    run_id: str | None = None
    text: str = ""


def run_periodic(
    ctx: Any,
    agent: PeriodicAgent,
    *,
    trigger: str,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    approver: Any = None,
    model: str | None = None,
    runtime: str | None = None,
    on_wait: Callable[[], None] | None = None,
) -> PeriodicResult:
    """Run the agent once. trigger "timer": its latest due time, unless already claimed;
    "manual": now, as its own due time."""
    db = ctx.db
    group = find_group(db, agent.group)
    if group is None and agent.group == FIRST_GROUP and not list_groups(db):
        # A fresh install, before serve's first start (which makes the same group).
        group = add_group(db, ctx.paths, FIRST_GROUP, admin=True)
    if group is None:
        raise NotFoundError(missing_group(agent))
    if trigger == "manual":
        claim_id, due_at = claim_now(db, agent)
    else:
        claimed = claim_due(db, agent, trigger=trigger)
        if claimed is None:
            due = due_time(agent.schedule).astimezone().strftime("%Y-%m-%d %H:%M")
            return PeriodicResult(agent.name, None, "taken", f"its due time {due} already ran")
        claim_id, due_at = claimed
    why = over_budget(db, agent)
    if why:
        runs.finish_run(db, claim_id, "skipped", why)
        return PeriodicResult(agent.name, due_at, "skipped", why)
    try:
        outcome = asyncio.run(
            _execute(ctx, agent, group, model, runtime, on_event, approver, on_wait)
        )
    except Exception as exc:  # refused before it started (budget, model, runtime...)
        line = exc.line() if hasattr(exc, "line") else f"{type(exc).__name__}: {exc}"
        status = "skipped" if type(exc).__name__ == "BudgetExceeded" else "failed"
        runs.finish_run(db, claim_id, status, first_line(line))
        record_for_group(db, group, f"Periodic agent {agent.name} {status}: {first_line(line)}")
        raise
    if outcome.status == "succeeded":
        text = outcome.text.strip()
        if text:
            name = ctx.settings.assistant_name
            record_for_group(db, group, text, run_id=outcome.run_id, kind="assistant", sender=name)
        summary = first_line(text) or "(no answer)"
        runs.finish_run(db, claim_id, "ok", summary, outcome.run_id)
        return PeriodicResult(agent.name, due_at, "ok", summary, outcome.run_id, text)
    error = first_line(outcome.error or f"the run {outcome.status}")
    runs.finish_run(db, claim_id, "failed", error, outcome.run_id)
    record_for_group(
        db, group, f"Periodic agent {agent.name} failed: {error}", run_id=outcome.run_id
    )
    return PeriodicResult(agent.name, due_at, "failed", error, outcome.run_id)


async def _execute(
    ctx: Any,
    agent: PeriodicAgent,
    group: Group,
    model: str | None,
    runtime: str | None,
    on_event: Any,
    approver: Any,
    on_wait: Any,
) -> Any:
    from pynchy_cli.core.agent import control
    from pynchy_cli.core.agent.group_lock import group_run_lock
    from pynchy_cli.core.agent.run import AgentRun, RunRequest

    async with group_run_lock(ctx.paths, group, on_wait=on_wait):
        agent_run = AgentRun(
            ctx,
            RunRequest(
                group=run_group(get_group(ctx.db, group.name), agent),
                prompt=agent.prompt,
                model=model,
                runtime=runtime,
                mcp_servers=tuple(agent.mcp_servers),
            ),
            on_event=on_event,
            approver=approver,
        )
        if agent_run.runtime.isolated:  # the process runtime cannot see others' runs
            control.cleanup_orphans(ctx, agent_run.runtime)
        return await agent_run.execute()


def record_for_group(
    db: Any,
    group: Group,
    text: str,
    *,
    run_id: str | None = None,
    kind: str = "host",
    sender: str = "pynchy",
) -> str:
    """Store a message for the group and an unsent outbound row for serve to send (now if
    it runs, else when it starts); the group's cursor does not move past unanswered
    messages. Returns the outbound key."""
    created = utcnow()
    with db.atomic():
        table = db["messages"]
        table.insert(
            {
                "group_id": group.id,
                "channel": group.channel,
                "sender": sender,
                "sender_kind": kind,
                "content": text,
                "run_id": run_id,
                "created_at": created,
            }
        )
        message_id = table.last_pk
        key = f"{RELAY_PREFIX}{run_id or 'host'}:{message_id}"
        db["outbound"].insert(
            {
                "key": key,
                "run_id": run_id or "periodic",
                "group_id": group.id,
                "channel": group.channel,
                "message_id": message_id,
                "watermark": get_group(db, group.name).last_answered_id,
                "created_at": created,
            }
        )
    return key
