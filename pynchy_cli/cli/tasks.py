"""`pynchy tasks`: scheduled prompts per group (cron, interval, once)."""

from __future__ import annotations

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_table, success

app = typer.Typer(no_args_is_help=True, help="Schedule prompts: cron, interval or once per group.")

_COLUMNS = ["id", "group_name", "name", "kind", "spec", "status", "next_run_at", "prompt"]


@app.command("add")
def add(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="What the agent should do each time."),
    group: str = typer.Option(..., "--group", "-g", help="The group the task runs in."),
    cron: str | None = typer.Option(None, "--cron", help='Cron expression, e.g. "0 9 * * 1-5".'),
    every: str | None = typer.Option(None, "--every", help="Interval: 30s, 15m, 2h, 1d."),
    at: str | None = typer.Option(None, "--at", help="Once, at an ISO time: 2026-12-01T09:00."),
    name: str | None = typer.Option(None, "--name", help="A short name for the task."),
) -> None:
    """Add a scheduled task (exactly one of --cron, --every, --at)."""
    from pynchy_cli.core import tasks as core
    from pynchy_cli.core.errors import UsageError
    from pynchy_cli.core.groups import get_group

    chosen = [(k, v) for k, v in (("cron", cron), ("interval", every), ("once", at)) if v]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --cron, --every or --at", 'e.g. --cron "* * * * *"')
    kind, spec = chosen[0]
    c = context(ctx)
    task = core.add_task(c.db, get_group(c.db, group).id, prompt, kind, spec, name=name)
    success(f"added task {task['id']} in {group}; next run {task['next_run_at']}")


@app.command("list")
def list_(
    ctx: typer.Context,
    group: str | None = typer.Option(None, "--group", "-g", help="Only this group's tasks."),
    show_all: bool = typer.Option(False, "--all", "-a", help="Include cancelled and done tasks."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List scheduled tasks."""
    from pynchy_cli.core import tasks as core
    from pynchy_cli.core.groups import get_group

    c = context(ctx)
    group_id = get_group(c.db, group).id if group else None
    rows = core.list_tasks(c.db, group_id, include_ended=show_all)
    emit_table(rows, _COLUMNS, as_json=as_json, empty="no tasks; add one with: pynchy tasks add")


def _set(ctx: typer.Context, task_id: int, status: str, verb: str) -> None:
    from pynchy_cli.core import tasks as core

    task = core.set_status(context(ctx).db, task_id, status)
    success(
        f"{verb} task {task_id}"
        + (f"; next run {task['next_run_at']}" if status == "active" else "")
    )


@app.command("pause")
def pause(ctx: typer.Context, task_id: int) -> None:
    """Pause a task."""
    _set(ctx, task_id, "paused", "paused")


@app.command("resume")
def resume(ctx: typer.Context, task_id: int) -> None:
    """Resume a paused task (runs missed while paused are skipped)."""
    _set(ctx, task_id, "active", "resumed")


@app.command("cancel")
def cancel(ctx: typer.Context, task_id: int) -> None:
    """Cancel a task for good."""
    _set(ctx, task_id, "cancelled", "cancelled")


@app.command("runs")
def runs(ctx: typer.Context, task_id: int, as_json: bool = JSON_OPTION) -> None:
    """Show a task's past runs."""
    from pynchy_cli.core import tasks as core

    c = context(ctx)
    core.get_task(c.db, task_id)
    emit_table(
        core.task_runs(c.db, task_id),
        ["due_at", "status", "run_id", "started_at", "finished_at", "error"],
        as_json=as_json,
        empty=f"task {task_id} has not run yet",
    )
