"""`pynchy agent`: run an agent in a container and look at its runs."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer

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
from pynchy_cli.cli.render import render_event, summary_line, unknown_if_none

app = typer.Typer(no_args_is_help=True, help="Run agents in containers; list, stop and trace runs.")
app.add_typer(agent_image.app, name="image")

DEFAULT_GROUP = "main"


def _ask(question: str) -> bool:
    # The question quotes the tool's arguments, which the agent chose.
    from rich.prompt import Confirm

    return Confirm.ask(neutralise_markup(question), default=False, console=err_console)


def _read_stdin() -> str:
    """The prompt piped in (any size: a prompt too large for the model is trimmed)."""
    from pynchy_cli.core.errors import UsageError

    stream = getattr(sys.stdin, "buffer", None)
    text = stream.read().decode("utf-8", "replace") if stream else sys.stdin.read()
    if not text.strip():
        raise UsageError(
            "no prompt on standard input", 'Pipe one in: echo "..." | pynchy agent run -'
        )
    return text


@app.command("run")
def run(
    ctx: typer.Context,
    prompt: str | None = typer.Argument(
        None, help="What to ask the agent; - reads it from standard input."
    ),
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
        None,
        "--periodic",
        help="Run the periodic agent ([periodic.NAME]) or named task of this name, once per"
        " due time (for timers and cron).",
    ),
    agent: str | None = typer.Option(
        None, "--agent", help="The agent profile that answers ([agents.NAME]; see: agent profiles)."
    ),
) -> None:
    """Run one agent in a container and stream what it does."""
    import asyncio

    from pynchy_cli.core import tasks
    from pynchy_cli.core.agent import control, store
    from pynchy_cli.core.agent.approvals import TerminalApprover
    from pynchy_cli.core.agent.background import wait_for_removals
    from pynchy_cli.core.agent.group_lock import group_run_lock
    from pynchy_cli.core.agent.run import AgentRun, RunOutcome, RunRequest  # heavy: only here
    from pynchy_cli.core.budgets import BudgetExceeded
    from pynchy_cli.core.db import utcnow
    from pynchy_cli.core.errors import ExitCode, UsageError
    from pynchy_cli.core.groups import add_group, find_group, get_group
    from pynchy_cli.core.models import parse_model

    c = context(ctx)
    task = None
    if periodic and _run_periodic_agent(c, periodic, model, runtime, as_json):
        return
    if periodic:  # no [periodic.NAME]: a scheduled task of that name, as before
        task = tasks.get_task_by_name(c.db, periodic)
        group, prompt = task["group_name"], prompt or task["prompt"]
    if prompt == "-":
        prompt = _read_stdin()
    if not prompt:
        raise UsageError("no prompt given", 'Say what to do: pynchy agent run "..."')
    # A wrong --model is said at once, not after the group's lock. Only the flag: the rest
    # of the model choice waits for the lock (a resumed session may be an agent profile's).
    if model and not agent:
        parse_model(model, c.settings)
    found = find_group(c.db, group)
    if found is None:
        if group != DEFAULT_GROUP:
            get_group(c.db, group)  # raises the standard not-found error
        found = add_group(c.db, c.paths, DEFAULT_GROUP, admin=True)
        err_console.print(f"created group {DEFAULT_GROUP} ({found.folder})")

    def show(event: dict) -> None:
        if as_json:
            print(json.dumps(event), flush=True)
        else:
            render_event(event)

    def waiting() -> None:
        name = neutralise_markup(found.name)
        err_console.print(
            f"[yellow]group {name} is busy: waiting for its running agent… (Ctrl-C to give up)[/]"
        )

    async def one_run() -> RunOutcome:
        # One run per group at a time, also beside serve; the group is read again after
        # the wait, for the session the other run saved.
        async with group_run_lock(c.paths, found, on_wait=waiting):
            agent_run = AgentRun(
                c,
                RunRequest(
                    group=get_group(c.db, found.name),
                    prompt=prompt,
                    model=model,
                    runtime=runtime,
                    new_session=new_session,
                    task_id=task["id"] if task else None,
                    agent=agent,
                ),
                on_event=show,
                approver=TerminalApprover(
                    c.db, _ask if sys.stdin.isatty() else None, c.settings.limits.approval_timeout
                ),
            )
            if agent_run.runtime.isolated:  # the process runtime cannot see others' runs
                control.cleanup_orphans(c, agent_run.runtime)
            nonlocal task_run
            task_run = tasks.start_task_run(c.db, task["id"], utcnow()) if task else None
            return await agent_run.execute()

    task_run = None
    try:
        outcome = asyncio.run(one_run())
    except BudgetExceeded as exc:  # refused before it started: a task is skipped, and says so
        if task is not None:
            skipped = tasks.start_task_run(c.db, task["id"], utcnow())
            tasks.finish_task_run(c.db, skipped, None, "skipped", exc.line())
        raise
    if task_run is not None:
        tasks.finish_task_run(c.db, task_run, outcome.run_id, outcome.status, outcome.error)
    record = store.get_run(c.db, outcome.run_id)
    if not as_json:
        if record["link"] == "handoff":  # the run that answered is the last successor
            who = neutralise_markup(record["agent"] or "the group's own agent")
            err_console.print(f"[dim]handed off to {who} (run {record['id']})[/]")
        style = "green" if outcome.status == "succeeded" else "red"
        err_console.print(f"[{style}]{neutralise_markup(summary_line(record))}[/]")
        if outcome.status != "succeeded" and outcome.error:
            error = neutralise(outcome.error)
            err_console.print(f"pynchy: error: {error}", markup=False, soft_wrap=True)
    wait_for_removals()  # the container, removed while the summary was written
    if outcome.status != "succeeded":
        raise typer.Exit(ExitCode.INTERRUPTED if outcome.status == "stopped" else 1)


def _run_periodic_agent(
    c: Any, name: str, model: str | None, runtime: str | None, as_json: bool
) -> bool:
    """`--periodic NAME` of a periodic agent: its latest due time, unless serve or another
    timer already ran it. False when no periodic agent has that name."""
    from pynchy_cli.cli.periodic import run_and_report
    from pynchy_cli.core.periodic import load_periodic

    agent = load_periodic(c.settings, c.paths.config_dir).get(name)
    if agent is None:
        return False
    if not agent.enabled:
        err_console.print(f"periodic agent {name} is disabled: nothing to run", markup=False)
        return True
    run_and_report(c, agent, trigger="timer", model=model, runtime=runtime, as_json=as_json)
    return True


@app.command("ps")
def ps(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", "-a", help="Include finished runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List running agent runs (--all: recent finished ones too)."""
    from pynchy_cli.core.agent import run_tree, store

    rows = store.list_runs(context(ctx).db, include_finished=show_all)
    columns = ["id", "group_name", "status", "model", "runtime", "started_at", "cost_usd"]
    if not as_json:  # a model without a known price: its cost is unknown, not free
        rows = [{**r, "cost_usd": unknown_if_none(r["cost_usd"])} for r in rows]
        # Delegates and successors under the run that started them.
        rows = [{**r, "id": _indented(r)} for r in run_tree.nest(rows)]
        if any(r["link"] for r in rows):
            columns.insert(1, "link")
    emit_table(
        rows,
        columns,
        as_json=as_json,
        empty="no runs" if show_all else "no runs in progress (see all with --all)",
    )


@app.command("stop")
def stop(ctx: typer.Context, run_id: str = typer.Argument(..., metavar="RUN")) -> None:
    """Stop a running agent: its container is stopped and removed."""
    from pynchy_cli.core.agent import control

    run = control.stop_run(context(ctx), run_id)
    success(f"stopped run {run['id']}")


@app.command("logs")
def logs(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUN"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until it ends."),
    as_json: bool = typer.Option(False, "--json", help="Print events as JSON lines."),
    session: bool = typer.Option(
        False, "--session", help="Print the run's structured session log (JSON lines)."
    ),
) -> None:
    """Print a run's events as they were streamed."""
    from pynchy_cli.core.agent import store

    c = context(ctx)
    run = store.get_run(c.db, run_id)
    if session:
        from pynchy_cli.core.logs.reading import run_session_events

        for event in run_session_events(c.paths, run["id"]):
            print(json.dumps(event), flush=True)
        return
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
    from pynchy_cli.core.agent import run_tree, store

    c = context(ctx)
    run = store.get_run(c.db, run_id)
    events = store.events(c.db, run["id"])
    parent, children = run_tree.parent_of(c.db, run), run_tree.children_of(c.db, run["id"])
    if as_json:
        emit_json({"run": run, "events": events, "parent": parent, "children": children})
        return
    # Stored text throughout (prompts hold messages, the error a run's words): neutralised.
    title = f"run {run['id']} · group {run['group_name']} · {run['status']}"
    console.rule(neutralise_markup(title))
    console.print(
        neutralise(
            f"model {run['model']} · runtime {run['runtime']} · container {run['container']}"
            + (f" · node {run['node']}" if run.get("node") else "")
            + "\n"
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
    if parent or children:
        _show_links(parent, children)


def _indented(row: dict) -> str:
    return f"{'  ' * (row['level'] - 1)}└ {row['id']}" if row["level"] else row["id"]


def _show_links(parent: dict | None, children: list[dict], level: int = 0) -> None:
    """The runs linked to a traced one: who started it, and what it started, with answers."""
    if level == 0:
        console.rule("linked runs", style="dim")
    if parent is not None:
        how = "delegated by" if parent["link"] == "delegate" else "handed off from"
        console.print(neutralise(f"{how} run {parent['id']} ({parent['status']})"), markup=False)
    for child in children:
        pad = "  " * level
        who = child["agent"] or ("sub-agent" if child["link"] == "delegate" else "group's agent")
        line = f"{pad}{child['link']} → run {child['id']} · {who} · {child['status']}"
        console.print(neutralise(line), markup=False)
        answer = child["result"] if child["status"] == "succeeded" else child["error"]
        if answer:
            brief = " ".join(answer.split())
            brief = brief if len(brief) <= 200 else brief[:199] + "…"
            console.print(neutralise(f"{pad}  answer: {brief}"), markup=False, soft_wrap=True)
        _show_links(None, child["children"], level + 1)


@app.command("profiles")
def profiles(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """The agent profiles that delegate and handoff can name ([agents.NAME] and plugins')."""
    from pynchy_cli.core.agent.profiles import agent_profiles
    from pynchy_cli.core.plugins.manager import plugins_for

    c = context(ctx)
    found = agent_profiles(c.settings, plugins_for(c.settings), c.paths.config_dir)
    rows = [
        {
            "name": p.name,
            "description": p.description,
            "model": p.model or "(the group's)",
            "security_profile": p.security_profile or "(the group's)",
            "tools": ", ".join(p.tools) if p.tools is not None else "(all offered)",
        }
        for p in found.values()
    ]
    emit_table(
        rows,
        ["name", "description", "model", "security_profile", "tools"],
        as_json=as_json,
        empty="no agent profiles (add [agents.NAME] to config.toml)",
    )
