"""The local API: HTTP on loopback (or a unix socket), every request but /health needs
the bearer token kept in the data folder. `pynchy chat` is its client."""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from aiohttp import ClientConnectionResetError, web

from pynchy_cli.core.errors import NotFoundError, PynchyError
from pynchy_cli.core.groups import find_group
from pynchy_cli.core.serve import messages as msgs
from pynchy_cli.core.serve.service import Service

MAX_BODY = 256 * 1024
SERVICE_KEY = web.AppKey("service", Service)


def ensure_token(path: Path) -> str:
    """The API token: created once, readable only by its owner."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def make_app(service: Service, token: str) -> web.Application:
    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/health":
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, "missing or wrong token")
        try:
            return await handler(request)
        except PynchyError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 400
            return _error(status, exc.line())

    app = web.Application(middlewares=[auth], client_max_size=MAX_BODY)
    app[SERVICE_KEY] = service
    app.router.add_get("/health", health)
    app.router.add_get("/status", status)
    app.router.add_get("/groups/{name}/messages", read_messages)
    app.router.add_post("/groups/{name}/messages", post_message)
    app.router.add_get("/events", events)
    return app


def _group(request: web.Request):
    service = request.app[SERVICE_KEY]
    group = find_group(service.db, request.match_info["name"])
    if group is None:
        raise NotFoundError(
            f"no group named {request.match_info['name']!r}", "List groups with: pynchy groups list"
        )
    return service, group


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "stopping": request.app[SERVICE_KEY].stopping})


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE_KEY].status(), dumps=_dumps)


async def read_messages(request: web.Request) -> web.Response:
    service, group = _group(request)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return _error(400, "after must be a message id")
    return web.json_response(
        {
            "group": group.name,
            "last_answered_id": group.last_answered_id,
            "messages": msgs.messages_after(service.db, group, after),
        }
    )


async def post_message(request: web.Request) -> web.Response:
    service, group = _group(request)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, 'body must be JSON: {"text": ...}')
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return _error(400, 'body must be JSON: {"text": ...}')
    sender = body.get("sender") if isinstance(body.get("sender"), str) else "you"
    kind = "system" if body.get("kind") == "system" else "person"
    message, queued = await service.receive(
        group,
        sender or "you",
        body["text"],
        channel="terminal",
        sender_kind=kind,
        platform_id=body.get("id") if isinstance(body.get("id"), str) else None,
    )
    return web.json_response({"message": message, "queued": queued}, status=201)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: messages, run events, run starts/ends and cursor moves."""
    service = request.app[SERVICE_KEY]
    group = request.query.get("group") or None
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    with service.bus.subscribe(group) as queue:
        await response.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=15)
                await response.write(f"data: {_dumps(event)}\n\n".encode())
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
            except (ConnectionError, ClientConnectionResetError, asyncio.CancelledError):
                break  # the client went away
    return response


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)
