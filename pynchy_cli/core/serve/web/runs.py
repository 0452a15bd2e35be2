"""Runs: the live and recent ones (with their node when Ray places them), and each run's
transcript: system prompt, prompt, every event (tool calls with their results), usage,
cost, its approvals and the runs it is linked to."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from pynchy_cli.core.agent import run_tree, store
from pynchy_cli.core.serve.web.base import service
from pynchy_cli.core.serve.web.events import pair_tools, transcript_event
from pynchy_cli.core.serve.web.html import Html, fmt, join
from pynchy_cli.core.serve.web.layout import (
    badge,
    duration,
    empty,
    facts,
    group_url,
    money,
    page,
    table,
    tokens,
    when,
)

RECENT_RUNS = 100


def run_link(run_id: str | None) -> Html:
    return fmt('<a href="/web/runs/{r}">{r}</a>', r=run_id) if run_id else Html("-")


def _run_row(run: dict[str, Any], with_node: bool) -> list[Any]:
    indent = "↳ " * run.get("level", 0)
    row = [
        fmt("{i}{l}", i=indent, l=run_link(run["id"])),
        fmt('<a href="{u}">{g}</a>', u=group_url(run["group_name"]), g=run["group_name"]),
        badge(run["status"]),
        run.get("agent") or run.get("link") or "-",
        run["model"] or "-",
    ]
    if with_node:
        row.append(run.get("node") or "-")
    row += [
        when(run["started_at"]),
        duration(run["started_at"], run["finished_at"]),
        tokens((run["input_tokens"] or 0) + (run["output_tokens"] or 0)),
        money(run["cost_usd"]),
    ]
    return row


async def runs_page(request: web.Request) -> str:
    svc = service(request)
    runs = store.list_runs(svc.db, include_finished=True, limit=RECENT_RUNS)
    scaling = svc.parts.pool.status()
    with_node = any(r.get("node") for r in runs) or scaling.get("scaling") == "ray"
    headers = ["run", "group", "status", "agent", "model"]
    headers += ["node"] if with_node else []
    headers += ["started", "took", "tokens", "cost"]
    live = [r for r in runs if r["status"] in ("queued", "running")]
    ended = [r for r in runs if r["status"] not in ("queued", "running")]
    body = fmt("<h1>Runs</h1>")
    body += fmt('<section aria-labelledby="live-h"><h2 id="live-h">Running now</h2>')
    body += (
        table(headers, [_run_row(r, with_node) for r in run_tree.nest(live)], caption="Live runs")
        if live
        else empty("No run is going on.")
    )
    body += Html("</section>")
    if with_node:
        body += _nodes(scaling, live)
    body += fmt('<section aria-labelledby="recent-h"><h2 id="recent-h">Recent</h2>')
    body += (
        table(
            headers, [_run_row(r, with_node) for r in run_tree.nest(ended)], caption="Recent runs"
        )
        if ended
        else empty("No run has ended yet.")
    )
    body += Html("</section>")
    return page(request, "Runs", body, main_data={"follow": "runs"})


def _resources(node: dict[str, Any]) -> str:
    """`CPU 3/4 free · GPU 0/1 free` from a node's free and total resources."""
    total, free = node.get("total") or {}, node.get("free") or {}
    parts = [f"{k} {free.get(k, 0):g}/{v:g} free" for k, v in total.items() if k != "memory"]
    return " · ".join(parts) or "-"


def _nodes(scaling: dict[str, Any], live: list[dict[str, Any]]) -> Html:
    """Ray's nodes with the runs on each now (serve's /status carries the nodes)."""
    running = Counter(r.get("node") or "(not placed yet)" for r in live)
    rows = []
    for node in scaling.get("nodes") or []:
        node_id = str(node.get("id", "?"))
        rows.append(
            [
                fmt("<code>{n}</code>", n=node_id[:12]),
                node.get("hostname") or "-",
                node.get("ip") or "-",
                badge("alive" if node.get("alive") else "gone"),
                "serve's node" if node.get("serve_node") else "",
                str(running.pop(node_id, 0)),
                _resources(node),
            ]
        )
    rows += [[node, "-", "-", "-", "", str(count), "-"] for node, count in running.items()]
    return fmt(
        '<section aria-labelledby="nodes-h"><h2 id="nodes-h">Per node</h2>{t}</section>',
        t=table(["node", "host", "ip", "state", "", "running", "resources"], rows, caption="Nodes")
        if rows
        else empty(f"Scaling {scaling.get('scaling', '?')}: no node known yet."),
    )


def _linked(parent: dict[str, Any] | None, children: list[dict[str, Any]]) -> Html:
    if parent is None and not children:
        return Html("")
    items = []
    if parent is not None:
        how = "delegated by" if parent.get("link") == "delegate" else "handed off from"
        items.append(
            fmt(
                "<li>{h} run {l} {b}</li>",
                h=how,
                l=run_link(parent["id"]),
                b=badge(parent["status"]),
            )
        )

    def walk(rows: list[dict[str, Any]]) -> Html:
        out = []
        for child in rows:
            what = child.get("agent") or (
                "sub-agent" if child.get("link") == "delegate" else "agent"
            )
            answer = child.get("result") or child.get("error") or ""
            out.append(
                fmt(
                    "<li>{link} run {l} ({w}) {b}{a}{sub}</li>",
                    link=child.get("link") or "linked",
                    l=run_link(child["id"]),
                    w=what,
                    b=badge(child["status"]),
                    a=fmt('<pre class="answer">{t}</pre>', t=answer) if answer else "",
                    sub=fmt("<ul>{c}</ul>", c=walk(child["children"])) if child["children"] else "",
                )
            )
        return join(out)

    return fmt(
        '<section aria-labelledby="linked-h"><h2 id="linked-h">Linked runs</h2>'
        '<ul class="linked">{i}{c}</ul></section>',
        i=join(items),
        c=walk(children),
    )


async def transcript_page(request: web.Request) -> str:
    svc = service(request)
    run = store.get_run(svc.db, request.match_info["run_id"])
    events = store.events(svc.db, run["id"])
    results = {id(use): result for use, result in pair_tools(events) if result is not None}
    parent, children = run_tree.parent_of(svc.db, run), run_tree.children_of(svc.db, run["id"])
    summary = [
        (
            "group",
            fmt('<a href="{u}">{g}</a>', u=group_url(run["group_name"]), g=run["group_name"]),
        ),
        ("status", badge(run["status"])),
        ("model", run["model"] or "-"),
        ("account", run.get("account") or "-"),
        ("agent", run.get("agent") or "-"),
        ("runtime", run["runtime"] or "-"),
        ("container", run["container"] or "-"),
    ]
    if run.get("node"):
        summary.append(("node", run["node"]))
    summary += [
        ("started", when(run["started_at"])),
        ("finished", when(run["finished_at"])),
        ("took", duration(run["started_at"], run["finished_at"])),
        ("tokens", f"{tokens(run['input_tokens'])} in · {tokens(run['output_tokens'])} out"),
        ("cost", money(run["cost_usd"])),
    ]
    approvals = list(
        svc.db.query("select * from approvals where run_id = ? order by created_at", [run["id"]])
    )
    approval_rows = [
        [
            a["id"],
            fmt("<code>{t}</code>", t=a["tool"]),
            badge(a["status"]),
            a["decided_by"] or "-",
            when(a["decided_at"]),
        ]
        for a in approvals
    ]
    body = fmt(
        "<h1>Run {id}</h1>{facts}{error}"
        '<section aria-labelledby="sys-h"><h2 id="sys-h">System prompt</h2>'
        '<details class="block"><summary>{sys_len} characters</summary>'
        "<pre>{sys}</pre></details></section>"
        '<section aria-labelledby="prompt-h"><h2 id="prompt-h">Prompt</h2>'
        '<pre class="block">{prompt}</pre></section>'
        '<section aria-labelledby="events-h"><h2 id="events-h">Events</h2>'
        '<div class="events">{events}</div></section>'
        "{approvals}{linked}",
        id=run["id"],
        facts=facts(summary),
        error=fmt('<p class="ev ev-error">error: {e}</p>', e=run["error"]) if run["error"] else "",
        sys_len=f"{len(run['system_prompt'] or ''):,}",
        sys=run["system_prompt"] or "",
        prompt=run["prompt"] or "",
        events=join(transcript_event(e, results) for e in events)
        if events
        else empty("No events."),
        approvals=fmt(
            '<section aria-labelledby="appr-h"><h2 id="appr-h">Approvals</h2>{t}</section>',
            t=table(
                ["id", "tool", "decision", "by", "at"],
                approval_rows,
                caption="Approvals of this run",
            ),
        )
        if approvals
        else "",
        linked=_linked(parent, children),
    )
    return page(request, f"Run {run['id']}", body)
