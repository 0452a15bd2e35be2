"""Scheduled tasks (their next and last runs; a named task is a periodic agent that
system cron can also start: `pynchy agent run --periodic NAME`) and serve's health."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pynchy_cli import __version__
from pynchy_cli.core.periodic.health import health_report
from pynchy_cli.core.serve.web.base import service
from pynchy_cli.core.serve.web.html import Html, fmt, join
from pynchy_cli.core.serve.web.layout import badge, empty, facts, group_url, page, table, when
from pynchy_cli.core.serve.web.runs import run_link


def _last_run(last: dict[str, Any] | None) -> Html:
    if not last:
        return Html("never")
    error = fmt('<br><span class="error">{e}</span>', e=last["error"]) if last.get("error") else ""
    return fmt(
        "{b} {t} {r}{e}",
        b=badge(last["status"]),
        t=when(last.get("finished_at") or last.get("due_at")),
        r=run_link(last.get("run_id")),
        e=error,
    )


async def tasks_page(request: web.Request) -> str:
    tasks = service(request).scheduler.status()["tasks"]
    rows = [
        [
            str(t["id"]),
            t["name"] or "-",
            fmt('<a href="{u}">{g}</a>', u=group_url(t["group"]), g=t["group"]),
            fmt("{k} <code>{s}</code>", k=t["kind"], s=t["spec"]),
            badge(t["status"]),
            when(t["next_run_at"]) if t["status"] == "active" else "-",
            _last_run(t["last_run"]),
        ]
        for t in tasks
    ]
    periodic = [t for t in tasks if t["name"]]
    body = fmt("<h1>Scheduled tasks</h1>")
    body += (
        table(
            ["id", "name", "group", "schedule", "status", "next run", "last run"],
            rows,
            caption="Tasks",
        )
        if rows
        else empty('No scheduled tasks. Add one with: pynchy tasks add -g main --every 1h "..."')
    )
    if periodic:
        body += fmt(
            '<p class="hint">Named tasks are periodic agents: system cron can start one too, '
            "with <code>pynchy agent run --periodic NAME</code> ({n}).</p>",
            n=join((t["name"] for t in periodic), ", "),
        )
    return page(request, "Tasks", body)


def health_data(request: web.Request) -> dict[str, Any]:
    svc = service(request)
    status = svc.status()
    return {
        "ok": True,
        "stopping": svc.stopping,
        "version": __version__,
        "started_at": svc.started_at,
        "runtime": status["runtime"],
        "max_concurrent": status["max_concurrent"],
        "scaling": status["scaling"],
        "groups": len(status["groups"]),
        "running": sum(1 for g in status["groups"] if g["running"]),
        "waiting_approvals": len(svc.approvals.waiting),
        "channels": sorted(svc.channels),
    }


def _scaling_facts(scaling: dict[str, Any]) -> list[tuple[str, Any]]:
    """Scalars as they are; lists (Ray's nodes, waiting and placed runs) counted."""
    shown: list[tuple[str, Any]] = []
    for key, value in scaling.items():
        if isinstance(value, list):
            alive = sum(1 for v in value if isinstance(v, dict) and v.get("alive"))
            extra = f" ({alive} alive)" if key == "nodes" else ""
            shown.append((key, f"{len(value)}{extra}"))
        elif not isinstance(value, dict):
            shown.append((key, "-" if value is None else str(value)))
    if scaling.get("nodes"):
        shown.append(("per node", Html('<a href="/web/runs">on the runs page</a>')))
    return shown


async def health_page(request: web.Request) -> str:
    data = health_data(request)
    svc = service(request)
    report = health_report(svc.ctx, {"started_at": svc.started_at})
    state = "stopping" if data["stopping"] else "ok"
    scaling = data["scaling"]
    body = fmt(
        '<h1>Health</h1><p class="health h-{s}" role="status">{line}</p>{facts}'
        '<section aria-labelledby="scaling-h"><h2 id="scaling-h">Scaling</h2>{scaling}</section>'
        '<section aria-labelledby="report-h"><h2 id="report-h">Report</h2>{report}{periodic}'
        "</section>"
        '<p class="hint">The same answer as JSON, for monitors: <a href="/health">/health</a> '
        "(no login needed).</p>",
        s=state,
        line="serve is stopping: running agents finish, nothing new starts"
        if data["stopping"]
        else "serve is up",
        facts=facts(
            [
                ("version", data["version"]),
                ("started", when(data["started_at"])),
                ("runtime", data["runtime"]),
                ("runs at once", str(data["max_concurrent"])),
                ("groups", str(data["groups"])),
                ("working now", str(data["running"])),
                ("waiting approvals", str(data["waiting_approvals"])),
                ("channels", ", ".join(data["channels"])),
            ]
        ),
        scaling=facts(_scaling_facts(scaling)),
        report=facts([tuple(line.split(": ", 1)) for line in report.lines()]),
        periodic=_periodic_runs(report.periodic),
    )
    return page(request, "Health", body)


def _periodic_runs(runs: list[dict[str, Any]]) -> Html:
    """The periodic agents' runs of the last day (core.periodic.health)."""
    if not runs:
        return empty("No periodic agent ran in the last 24 hours (see: pynchy periodic list).")
    rows = [
        [
            r["name"],
            when(r["due_at"].split()[0]),
            badge(r["status"]),
            r["summary"] or "-",
            run_link(r["run_id"]),
        ]
        for r in runs
    ]
    return table(["agent", "due", "status", "summary", "run"], rows, caption="Periodic runs")
