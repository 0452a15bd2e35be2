"""`pynchy status`: what the running serve is doing: its groups' runs and, when scaling is
ray, the cluster's nodes and the runs waiting for resources; and how pynchy is doing (the
health report: version, uptime, periodic agents, conversations, errors, budgets), which
it shows without serve too."""

from __future__ import annotations

from typing import Any

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_json, emit_mapping, emit_table, neutralise


def _amounts(node: dict[str, Any]) -> str:
    """free/total of each resource, memory in GiB."""
    shown = []
    for name, total in node["total"].items():
        free = node["free"].get(name, 0.0)
        if name == "memory":
            shown.append(f"memory {free / 2**30:.1f}/{total / 2**30:.1f}G")
        else:
            shown.append(f"{name} {free:g}/{total:g}")
    return ", ".join(shown)


def status(
    ctx: typer.Context,
    port: int | None = typer.Option(None, "--port", help="serve's API port."),
    socket: str | None = typer.Option(None, "--socket", help="serve's API unix socket."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the running serve and the health report.

    serve's runs (with Ray, the nodes and the waiting runs), then the version, uptime,
    periodic agents' last day, conversations, errors in the log and budget use."""
    from pynchy_cli.core.errors import UnavailableError
    from pynchy_cli.core.periodic.health import HealthReport, health_report
    from pynchy_cli.core.scaling.report import fetch_status

    c = context(ctx)
    try:
        data = fetch_status(c, port, socket)
    except UnavailableError:  # serve is down: the health report still says how things are
        health = health_report(c)
        if as_json:
            emit_json({"serve": None, "health": health.as_dict()})
        else:
            print("\n".join(neutralise(line) for line in health.lines()))
        raise
    health = HealthReport(**data["health"]) if data.get("health") else health_report(c, data)
    if as_json:
        emit_json({**data, "health": health.as_dict()})
        return
    scaling = data.get("scaling") or {"scaling": "local"}
    summary = {
        "started": data.get("started_at"),
        "runtime": data.get("runtime"),
        "scaling": scaling["scaling"],
        "running": ", ".join(g["name"] for g in data.get("groups", []) if g.get("running")) or "-",
    }
    if scaling["scaling"] == "ray":
        summary["ray"] = scaling.get("address")
    else:
        summary["slots"] = f"{scaling.get('in_use', 0)}/{scaling.get('limit', '-')} in use"
    emit_mapping(summary)
    print("\n".join(neutralise(line) for line in health.lines()))
    if scaling["scaling"] != "ray":
        return
    nodes = [
        {
            "node": n["id"][:12] + (" (serve)" if n["serve_node"] else ""),
            "ip": n["ip"],
            "alive": n["alive"],
            "free/total": _amounts(n) if n["alive"] else "-",
            "labels": ", ".join(f"{k}={v}" for k, v in n["labels"].items()) or "-",
        }
        for n in scaling.get("nodes", [])
    ]
    emit_table(nodes, ["node", "ip", "alive", "free/total", "labels"], title="Ray nodes")
    emit_table(
        scaling.get("waiting", []),
        ["group", "asks", "since"],
        title="Runs waiting for resources",
        empty="no run is waiting for resources",
    )
