"""Groups and their chats: the overview, a group's conversation (messages, each reply's
tool calls, host notices apart, what waits for approval), sending, and the messages API
the live page catches up with after a reconnect."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from aiohttp import web

from pynchy_cli.core.groups import Group, find_group, list_groups
from pynchy_cli.core.serve import messages as msgs
from pynchy_cli.core.serve.web.approvals import approval_list, waiting
from pynchy_cli.core.serve.web.base import (
    WEB_SENDER,
    Refused,
    form,
    json_response,
    redirect,
    service,
    wants_json,
)
from pynchy_cli.core.serve.web.events import pair_tools, tool_details
from pynchy_cli.core.serve.web.html import Html, fmt, join
from pynchy_cli.core.serve.web.layout import brief, csrf_field, empty, group_url, page, when

PAGE_MESSAGES = 100
MAX_ID = 2**63 - 1


def _group(request: web.Request) -> Group:
    name = request.match_info["name"]
    group = find_group(service(request).db, name)
    if group is None:
        raise Refused(404, f"no group named {name!r}")
    return group


def answers(group: Group, assistant_name: str) -> str:
    if group.admin:
        return "admin group: the agent answers every message"
    return f"the agent answers messages with {group.trigger_word(assistant_name)}"


def working(request: web.Request, group: Group) -> bool:
    """The group's agent is at work on messages (not only a warm one waiting)."""
    worker = service(request).workers.get(group.id)
    return bool(worker and worker.busy and msgs.unanswered(service(request).db, group))


def _message_id(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_ID:
        raise Refused(400, f"{name} must be a message id")
    return int(raw)


# --- the overview ------------------------------------------------------------------------


async def overview(request: web.Request) -> str:
    svc = service(request)
    name = svc.settings.assistant_name
    cards = []
    for group in list_groups(svc.db):
        last = next(
            iter(
                svc.db.query(
                    "select sender, content, created_at from messages where group_id = ?"
                    " order by id desc limit 1",
                    [group.id],
                )
            ),
            None,
        )
        preview = (
            fmt(
                '<p class="preview"><span class="who">{s}:</span> {c} '
                '<span class="meta">{t}</span></p>',
                s=last["sender"],
                c=brief(last["content"], 140),
                t=when(last["created_at"]),
            )
            if last
            else fmt('<p class="preview empty">No messages yet.</p>')
        )
        pending = len(waiting(request, group.id))
        cards.append(
            fmt(
                '<li class="card"><h2><a href="{url}">{name}</a>{running}{pending}</h2>'
                '<p class="meta">{answers} · channel {channel}</p>{preview}</li>',
                url=group_url(group.name),
                name=group.name,
                running=Html(' <span class="badge s-running">working</span>')
                if working(request, group)
                else "",
                pending=fmt(' <span class="badge s-pending">{n} to approve</span>', n=pending)
                if pending
                else "",
                answers=answers(group, name),
                channel=group.channel,
                preview=preview,
            )
        )
    body = fmt("<h1>Chats</h1>")
    body += fmt('<ul class="cards">{c}</ul>', c=join(cards)) if cards else empty("No groups yet.")
    return page(request, "Chats", body, main_data={"follow": "chats"})


# --- one group's conversation ------------------------------------------------------------


def _reply_tools(db: Any, messages: list[dict[str, Any]]) -> dict[int, list[tuple]]:
    """Each reply's tool calls: a run's events up to its Nth result belong to its Nth
    reply (the outbound key `<run id>:<N>` says which N a reply is)."""
    run_ids = sorted(
        {m["run_id"] for m in messages if m["sender_kind"] == "assistant" and m["run_id"]}
    )
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    numbers = {
        row["message_id"]: (row["run_id"], int(row["key"].rsplit(":", 1)[1]))
        for row in db.query(
            f"select key, run_id, message_id from outbound where run_id in ({marks})", run_ids
        )
    }
    chunks: dict[str, list[list[dict]]] = defaultdict(lambda: [[]])
    for row in db.query(
        "select run_id, kind, data from run_events where run_id in"
        f" ({marks}) and kind in ('tool_use', 'tool_result', 'result') order by run_id, seq",
        run_ids,
    ):
        if row["kind"] == "result":
            chunks[row["run_id"]].append([])
        else:
            chunks[row["run_id"]][-1].append({"kind": row["kind"], "data": json.loads(row["data"])})
    found: dict[int, list[tuple]] = {}
    for message_id, (run_id, number) in numbers.items():
        runs = chunks.get(run_id)
        if runs and number - 1 < len(runs):
            found[message_id] = pair_tools(runs[number - 1])
    return found


def message_item(message: dict[str, Any], tools: list[tuple] | None = None) -> Html:
    kind = message["sender_kind"]
    who = "pynchy" if kind == "host" else message["sender"]
    run = message.get("run_id")
    link = (
        fmt(' · <a href="/web/runs/{r}">transcript</a>', r=run)
        if kind == "assistant" and run and run != "approval"
        else ""
    )
    block = (
        fmt('<div class="tools">{t}</div>', t=join(tool_details(u, r) for u, r in tools))
        if tools
        else ""
    )
    return fmt(
        '<li class="msg k-{kind}" id="m{id}" data-id="{id}">'
        '<p class="who"><span class="name">{who}</span> <span class="meta">{t}{link}</span></p>'
        '{block}<div class="text">{text}</div></li>',
        kind=kind,
        id=message["id"],
        who=who,
        t=when(message["created_at"]),
        link=link,
        block=block,
        text=message["content"],
    )


async def chat_page(request: web.Request) -> str:
    svc = service(request)
    group = _group(request)
    before = _message_id(request, "before")
    rows = list(
        svc.db.query(
            "select id, sender, sender_kind, content, run_id, reply_to, created_at from messages"
            " where group_id = ? and id < ? order by id desc limit ?",
            [group.id, before or MAX_ID, PAGE_MESSAGES + 1],
        )
    )
    more = len(rows) > PAGE_MESSAGES
    messages = list(reversed(rows[:PAGE_MESSAGES]))
    tools = _reply_tools(svc.db, messages)
    last_id = max((m["id"] for m in messages), default=0)
    url = group_url(group.name)
    earlier = (
        fmt(
            '<p class="earlier"><a href="{u}?before={b}">Earlier messages</a></p>',
            u=url,
            b=messages[0]["id"],
        )
        if more
        else ""
    )
    newer = (
        fmt('<p class="earlier"><a href="{u}">Back to the newest messages</a></p>', u=url)
        if before
        else ""
    )
    items = join(message_item(m, tools.get(m["id"])) for m in messages)
    pending = waiting(request, group.id)
    name = svc.settings.assistant_name
    body = fmt(
        '<div class="chat-head"><h1>{name}</h1><p class="meta">{answers} · '
        "security profile {profile} · model {model}</p></div>"
        '{earlier}<ol id="messages" class="messages" role="log" aria-label="Conversation">'
        "{items}</ol>"
        '{empty}{newer}<p id="status" class="status" role="status" aria-live="polite">{working}</p>'
        '<section id="approvals" class="waiting" aria-labelledby="approvals-h"{hidden}>'
        '<h2 id="approvals-h">Waiting for your approval</h2>{cards}</section>'
        '<form id="composer" class="composer" method="post" action="{url}/messages">{csrf}'
        '<label for="text" class="visually-hidden">Message to {name}</label>'
        '<textarea id="text" name="text" rows="2" required maxlength="32000" '
        'placeholder="Message {name} (Enter sends, Shift+Enter: new line)"></textarea>'
        '<button type="submit">Send</button></form>',
        name=group.name,
        answers=answers(group, name),
        profile=group.profile,
        model=group.model or "serve's default",
        hidden=Html("") if pending else Html(" hidden"),
        cards=approval_list(request, pending, url),
        earlier=earlier,
        items=items,
        empty=empty("No messages yet: say hello.") if not messages else "",
        newer=newer,
        working=f"{name} is working…" if working(request, group) else "",
        url=url,
        csrf=csrf_field(request),
    )
    data = {"group": group.name, "last-id": last_id, "assistant": name}
    if before:
        data["paged"] = "1"  # an older page: no live updates appended below it
    return page(request, group.name, body, main_data=data)


async def send(request: web.Request) -> web.Response:
    svc = service(request)
    group = _group(request)
    text = str(form(request).get("text", ""))
    message, queued = await svc.receive(group, WEB_SENDER, text, channel="web")
    if wants_json(request):
        return json_response({"message": message, "queued": queued}, status=201)
    return redirect(f"{group_url(group.name)}#m{message['id']}")


async def messages_api(request: web.Request) -> web.Response:
    """Messages after ?after=ID (the live page catching up), with each reply's tool calls."""
    svc = service(request)
    group = _group(request)
    after = _message_id(request, "after") or 0
    messages = list(
        svc.db.query(
            "select id, sender, sender_kind, content, run_id, reply_to, created_at from messages"
            " where group_id = ? and id > ? order by id limit 200",
            [group.id, after],
        )
    )
    tools = _reply_tools(svc.db, messages)
    for message in messages:
        message["tools"] = [{"use": u, "result": r} for u, r in tools.get(message["id"], [])]
    return json_response(
        {"group": group.name, "messages": messages, "working": working(request, group)}
    )
