"""`pynchy periodic`: the periodic agents ([periodic.NAME] in config, and shipped ones):
list, show, run one now, enable or disable one."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from pynchy_cli.cli.common import JSON_OPTION, context

app = typer.Typer(
    no_args_is_help=True,
    help="Periodic agents: [periodic.NAME] in config.toml and shipped ones.",
)

_COLUMNS = ["name", "schedule", "group", "enabled", "source", "last_run", "next_due"]


def _row(agent: Any, last: dict[str, Any] | None) -> dict[str, Any]:
    from pynchy_cli.core.periodic.schedule import next_due

    last_run = f"{last['status']} {last['started_at'][:16]}" if last else "never"
    return {
        "name": agent.name,
        "schedule": agent.schedule,
        "group": agent.group,
        "enabled": agent.enabled,
        "source": agent.source,
        "last_run": last_run,
        "next_due": next_due(agent.schedule).astimezone().strftime("%Y-%m-%d %H:%M")
        if agent.enabled
        else "-",
        "last": last,
    }


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List the periodic agents: schedule, group, on or off, last run, next due time."""
    from pynchy_cli.cli.output import emit_table
    from pynchy_cli.core.periodic import load_periodic
    from pynchy_cli.core.periodic.runs import last_runs

    c = context(ctx)
    last = last_runs(c.db)
    rows = [
        _row(a, last.get(a.name)) for a in load_periodic(c.settings, c.paths.config_dir).values()
    ]
    if not as_json:
        rows = [{**r, "enabled": "yes" if r["enabled"] else "no"} for r in rows]
    emit_table(
        rows,
        _COLUMNS,
        as_json=as_json,
        empty="no periodic agents; define one with [periodic.NAME] in config.toml",
    )


@app.command("show")
def show(ctx: typer.Context, name: str = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
    """One periodic agent: its definition and its latest runs."""
    from dataclasses import asdict

    from pynchy_cli.cli.output import emit_json, emit_mapping, emit_table
    from pynchy_cli.core.periodic import get_periodic

    c = context(ctx)
    agent = get_periodic(c.settings, name, c.paths.config_dir)
    history = list(
        c.db.query(
            "select due_at, trigger, status, summary, run_id, started_at, finished_at"
            " from periodic_runs where name = ? order by id desc limit 10",
            [name],
        )
    )
    if as_json:
        emit_json({**asdict(agent), "runs": history})
        return
    data = _row(agent, history[0] if history else None)
    data.pop("last")
    data.update(
        model=agent.model or "(the group's)",
        account=agent.account or "(the group's)",
        profile=agent.profile or "(the group's)",
        budget=f"${agent.budget:.2f} a day" if agent.budget else "-",
        mcp_servers=", ".join(agent.mcp_servers) or "-",
        description=agent.description or "-",
        prompt=agent.prompt,
    )
    emit_mapping(data)
    emit_table(
        history,
        ["due_at", "trigger", "status", "summary", "run_id"],
        title="Latest runs",
        empty="it has not run yet",
    )


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    model: str | None = typer.Option(
        None, "--model", "-m", help="echo, scripted:PATH, ... (default: the agent's or group's)."
    ),
    runtime: str | None = typer.Option(None, "--runtime", help="podman, docker or process."),
    as_json: bool = typer.Option(False, "--json", help="Print events as JSON lines."),
) -> None:
    """Run a periodic agent now, once (enabled or not).

    Its answer goes to the terminal and to its group's channel."""
    from pynchy_cli.core.periodic import get_periodic

    c = context(ctx)
    agent = get_periodic(c.settings, name, c.paths.config_dir)
    run_and_report(c, agent, trigger="manual", model=model, runtime=runtime, as_json=as_json)


def run_and_report(
    c: Any,
    agent: Any,
    *,
    trigger: str,
    model: str | None = None,
    runtime: str | None = None,
    as_json: bool = False,
) -> None:
    """Run it (core.periodic.runner), stream its events, and end with its outcome; shared
    with `pynchy agent run --periodic NAME`."""
    from rich.prompt import Confirm

    from pynchy_cli.cli.output import err_console, neutralise_markup
    from pynchy_cli.cli.render import render_event
    from pynchy_cli.core.agent.approvals import TerminalApprover
    from pynchy_cli.core.periodic.runner import run_periodic

    def ask(question: str) -> bool:  # the question quotes arguments the agent chose
        return Confirm.ask(neutralise_markup(question), default=False, console=err_console)

    def show(event: dict) -> None:
        if as_json:
            print(json.dumps(event), flush=True)
        else:
            render_event(event)

    result = run_periodic(
        c,
        agent,
        trigger=trigger,
        on_event=show,
        approver=TerminalApprover(
            c.db, ask if sys.stdin.isatty() else None, c.settings.limits.approval_timeout
        ),
        model=model,
        runtime=runtime,
        on_wait=lambda: err_console.print(
            f"[yellow]group {neutralise_markup(agent.group)} is busy: waiting…[/]"
        ),
    )
    if as_json:
        print(json.dumps({"periodic": result.__dict__}), flush=True)
    line = f"periodic {agent.name}: {result.status}" + (
        f" ({result.summary})" if result.status != "ok" else f" (run {result.run_id})"
    )
    style = {"ok": "green", "taken": "dim", "skipped": "yellow"}.get(result.status, "red")
    err_console.print(f"[{style}]{neutralise_markup(line)}[/]")
    if result.status == "failed":
        raise typer.Exit(1)


@app.command("enable")
def enable(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Turn a periodic agent on: [periodic.NAME] enabled = true in config.toml."""
    _set_enabled(ctx, name, True)


@app.command("disable")
def disable(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Turn a periodic agent off: [periodic.NAME] enabled = false in config.toml."""
    _set_enabled(ctx, name, False)


def _set_enabled(ctx: typer.Context, name: str, enabled: bool) -> None:
    from pynchy_cli.cli.output import success
    from pynchy_cli.core.periodic import get_periodic
    from pynchy_cli.core.periodic.config_edit import set_periodic_enabled

    c = context(ctx)
    get_periodic(c.settings, name, c.paths.config_dir)  # an unknown name: one line, a hint
    changed = set_periodic_enabled(c.paths.config_file, name, enabled)
    word = "enabled" if enabled else "disabled"
    note = "" if changed else " (it already was)"
    success(f"{word} periodic agent {name}{note}; serve picks it up within a second")
