"""`pynchy agent`: run an agent in a container and look at its runs."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import typer
from rich.prompt import Confirm

from pynchy_cli.cli import agent_image
from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import (
    console,
    emit_json,
    emit_table,
    err_console,
    neutralise,
    neutralise_markup,
    success,
)
from pynchy_cli.cli.render import render_event, summary_line
from pynchy_cli.core import tasks
from pynchy_cli.core.agent import control, store
from pynchy_cli.core.agent.approvals import TerminalApprover
from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import ExitCode, UsageError
from pynchy_cli.core.groups import add_group, find_group

app = typer.Typer(no_args_is_help=True, help="Run agents in containers; list, stop and trace runs.")
app.add_typer(agent_image.app, name="image")

DEFAULT_GROUP = "main"


def _ask(question: str) -> bool:
    # The question quotes the tool's arguments, which the agent chose.
    return Confirm.ask(neutralise_markup(question), default=False, console=err_console)


@app.command("run")
def run(
    ctx: typer.Context,
    prompt: str | None = typer.Argument(None, help="What to ask the agent."),
    group: str = typer.Option(DEFAULT_GROUP, "--group", "-g", help="Group whose workspace to use."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="echo, scripted:PATH, anthropic[:NAME] or openai[:NAME]."
    ),
    runtime: str | None = typer.Option(
        None, "--runtime", help="podman, docker or process (default: configured/auto)."
    ),
    new_session: bool = typer.Option(
        False, "--new-session", help="Start a fresh session instead of resuming the group's."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print events as JSON lines."),
    periodic: str | None = typer.Option(
        None, "--periodic", help="Run the scheduled task of this name now (for system cron)."
    ),
) -> None:
    """Run one agent in a container and stream what it does."""
    from pynchy_cli.core.agent.run import AgentRun, RunRequest  # heavy: only for this command

    c = context(ctx)
    task = None
    if periodic:
        task = tasks.get_task_by_name(c.db, periodic)
        group, prompt = task["group_name"], prompt or task["prompt"]
    if not prompt:
        raise UsageError("no prompt given", 'Say what to do: pynchy agent run "..."')
    found = find_group(c.db, group)
    if found is None:
        if group != DEFAULT_GROUP:
            # Let get_group raise the standard not-found error.
            from pynchy_cli.core.groups import get_group

            get_group(c.db, group)
        found = add_group(c.db, c.paths, DEFAULT_GROUP, admin=True)
        err_console.print(f"created group {DEFAULT_GROUP} ({found.folder})")

    def show(event: dict) -> None:
        if as_json:
            print(json.dumps(event), flush=True)
        else:
            render_event(event)

    agent_run = AgentRun(
        c,
        RunRequest(
            group=found,
            prompt=prompt,
            model=model,
            runtime=runtime,
            new_session=new_session,
            task_id=task["id"] if task else None,
        ),
        on_event=show,
        approver=TerminalApprover(
            c.db, _ask if sys.stdin.isatty() else None, c.settings.limits.approval_timeout
        ),
    )
    if agent_run.runtime.isolated:  # the process runtime cannot see other processes' runs
        control.cleanup_orphans(c, agent_run.runtime)
    task_run = tasks.start_task_run(c.db, task["id"], utcnow()) if task else None
    outcome = asyncio.run(agent_run.execute())
    if task_run is not None:
        tasks.finish_task_run(c.db, task_run, outcome.run_id, outcome.status, outcome.error)
    record = store.get_run(c.db, outcome.run_id)
    if not as_json:
        style = "green" if outcome.status == "succeeded" else "red"
        err_console.print(f"[{style}]{neutralise_markup(summary_line(record))}[/]")
        if outcome.status != "succeeded" and outcome.error:
            error = neutralise(outcome.error)
            err_console.print(f"pynchy: error: {error}", markup=False, soft_wrap=True)
    if outcome.status != "succeeded":
        raise typer.Exit(ExitCode.INTERRUPTED if outcome.status == "stopped" else 1)


@app.command("ps")
def ps(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", "-a", help="Include finished runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List running agent runs (--all: recent finished ones too)."""
    rows = store.list_runs(context(ctx).db, include_finished=show_all)
    emit_table(
        rows,
        ["id", "group_name", "status", "model", "runtime", "started_at", "cost_usd"],
        as_json=as_json,
        empty="no runs" if show_all else "no runs in progress (see all with --all)",
    )


@app.command("stop")
def stop(ctx: typer.Context, run_id: str = typer.Argument(..., metavar="RUN")) -> None:
    """Stop a running agent: its container is stopped and removed."""
    run = control.stop_run(context(ctx), run_id)
    success(f"stopped run {run['id']}")


@app.command("logs")
def logs(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUN"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until it ends."),
    as_json: bool = typer.Option(False, "--json", help="Print events as JSON lines."),
) -> None:
    """Print a run's events as they were streamed."""
    c = context(ctx)
    run = store.get_run(c.db, run_id)
    seq = 0
    while True:
        for event in store.events(c.db, run["id"], after_seq=seq):
            seq = event["seq"]
            print(json.dumps(event), flush=True) if as_json else render_event(event)
        if not follow or store.get_run(c.db, run["id"])["status"] in store.FINISHED:
            break
        time.sleep(0.3)


@app.command("trace")
def trace(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUN"),
    as_json: bool = JSON_OPTION,
) -> None:
    """The whole transcript of a run: system prompt, prompt, every event, usage and cost."""
    c = context(ctx)
    run = store.get_run(c.db, run_id)
    events = store.events(c.db, run["id"])
    if as_json:
        emit_json({"run": run, "events": events})
        return
    # Stored text throughout (prompts hold messages, the error a run's words): neutralised.
    title = f"run {run['id']} · group {run['group_name']} · {run['status']}"
    console.rule(neutralise_markup(title))
    console.print(
        neutralise(
            f"model {run['model']} · runtime {run['runtime']} · container {run['container']}\n"
            f"started {run['started_at']} · finished {run['finished_at'] or '-'}"
        ),
        markup=False,
    )
    console.rule("system prompt", style="dim")
    console.print(neutralise(run["system_prompt"] or ""), markup=False, soft_wrap=True)
    console.rule("prompt", style="dim")
    console.print(neutralise(run["prompt"] or ""), markup=False, soft_wrap=True)
    console.rule("events", style="dim")
    for event in events:
        render_event(event, full=True)
    console.rule(style="dim")
    console.print(summary_line(run), markup=False)
    if run["error"]:
        console.print(f"error: {neutralise(run['error'])}", markup=False, soft_wrap=True)
