"""Approvals on the page: what waits for a person, with the gate's reason, and approve /
deny buttons. A click goes the way a channel's `approve ID` goes: the answer is a
message of the group, routed by `Service.receive` to `ChannelApprover.answer`, and the
group gets the same host notice ("Approved ID.")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from pynchy_cli.core.groups import find_group
from pynchy_cli.core.serve.web.base import (
    WEB_SENDER,
    Refused,
    form,
    json_response,
    local_page,
    redirect,
    service,
    wants_json,
)
from pynchy_cli.core.serve.web.html import Html, fmt, join
from pynchy_cli.core.serve.web.layout import (
    brief,
    csrf_field,
    empty,
    group_url,
    page,
    pretty,
    table,
    when,
)


def waiting(request: web.Request, group_id: int | None = None) -> list[dict[str, Any]]:
    """Pending approvals (of one group), oldest first, with group name and expiry."""
    svc = service(request)
    found = []
    for item in list(svc.approvals.waiting.values()):
        if group_id is not None and item["group_id"] != group_id:
            continue
        asked = datetime.fromisoformat(item["asked_at"])
        expires = asked + timedelta(seconds=item["timeout"])
        try:
            group = svc.group_by_id(item["group_id"]).name
        except Exception:  # removed meanwhile: its approval still waits, shown without
            group = "?"
        found.append({**item, "group": group, "expires_at": expires.isoformat()})
    return sorted(found, key=lambda a: a["asked_at"])


def approval_card(request: web.Request, item: dict[str, Any], back: str) -> Html:
    """One waiting approval: what, why, until when, and the two buttons."""
    return fmt(
        '<li class="approval" id="approval-{id}" aria-labelledby="approval-{id}-title">'
        '<h3 id="approval-{id}-title"><code>{tool}</code> in <a href="{gq}">{group}</a></h3>'
        '<p class="reason"><span class="label">Why:</span> {reason}</p>'
        '<details class="args"><summary>arguments <code>{brief}</code></summary>'
        "<pre>{args}</pre></details>"
        '<p class="meta">request {id} · run <a href="/web/runs/{run}">{run}</a> · expires {exp}</p>'
        '<form method="post" action="/web/approvals/{id}" class="decide" data-live>'
        '{csrf}<input type="hidden" name="back" value="{back}">'
        '<button type="submit" name="decision" value="approve" class="approve">Approve</button> '
        '<button type="submit" name="decision" value="deny" class="deny">Deny</button>'
        "</form></li>",
        id=item["id"],
        tool=item["tool"],
        group=item["group"],
        gq=group_url(item["group"]),
        reason=item["reason"],
        brief=brief(item["arguments"], 60),
        args=pretty(item["arguments"]),
        run=item["run_id"],
        exp=when(item["expires_at"]),
        csrf=csrf_field(request),
        back=back,
    )


def approval_list(request: web.Request, items: list[dict[str, Any]], back: str) -> Html:
    return fmt(
        '<ul class="approvals" id="approval-list">{cards}</ul>',
        cards=join(approval_card(request, item, back) for item in items),
    )


async def approvals_page(request: web.Request) -> str:
    items = waiting(request)
    body = fmt("<h1>Approvals</h1>")
    body += fmt('<section aria-labelledby="waiting-h"><h2 id="waiting-h">Waiting for you</h2>')
    body += approval_list(request, items, "/web/approvals")
    body += fmt(
        '<p class="empty" id="no-approvals"{h}>Nothing waits for an approval.</p>',
        h=Html(" hidden") if items else Html(""),
    )
    body += Html("</section>")
    rows = service(request).db.query(
        "select approvals.*, groups.name as group_name from approvals left join groups on"
        " groups.id = approvals.group_id where approvals.status != 'pending'"
        " order by approvals.created_at desc limit 30"
    )
    decided = [
        [
            when(r["created_at"]),
            r["group_name"] or "?",
            fmt("<code>{t}</code>", t=r["tool"]),
            fmt('<span class="badge s-{s}">{s}</span>', s=r["status"]),
            r["decided_by"] or "-",
            fmt('<a href="/web/runs/{r}">{r}</a>', r=r["run_id"]) if r["run_id"] else "-",
        ]
        for r in rows
    ]
    body += fmt('<section aria-labelledby="decided-h"><h2 id="decided-h">Decided</h2>')
    body += (
        table(
            ["asked", "group", "tool", "decision", "by", "run"], decided, caption="Recent decisions"
        )
        if decided
        else empty("No decisions yet.")
    )
    body += Html("</section>")
    return page(request, "Approvals", body, main_data={"follow": "approvals"})


async def decide(request: web.Request) -> web.Response:
    """approve / deny: the same answer a person would type in the group."""
    approval_id = request.match_info["approval_id"]
    decision = str(form(request).get("decision", ""))
    if decision not in ("approve", "deny"):
        raise Refused(400, 'decision must be "approve" or "deny"')
    svc = service(request)
    item = svc.approvals.waiting.get(approval_id)
    if item is None:
        raise Refused(409, f"approval {approval_id} is no longer waiting (answered or expired)")
    group = svc.group_by_id(item["group_id"])
    await svc.receive(group, WEB_SENDER, f"{decision} {approval_id}", channel="web")
    done = "Approved" if decision == "approve" else "Denied"
    if wants_json(request):
        return json_response({"ok": True, "notice": f"{done} {approval_id}."})
    return redirect(local_page(form(request).get("back"), "/web/approvals"))


async def approvals_api(request: web.Request) -> web.Response:
    """Waiting approvals as JSON (?group=NAME for one group), for the live page."""
    svc = service(request)
    group_id = None
    if name := request.query.get("group"):
        group = find_group(svc.db, name)
        if group is None:
            raise Refused(404, f"no group named {name!r}")
        group_id = group.id
    items = waiting(request, group_id)
    return json_response(
        {
            "approvals": [
                {**item, "brief": brief(item["arguments"], 60), "pretty": pretty(item["arguments"])}
                for item in items
            ]
        }
    )
