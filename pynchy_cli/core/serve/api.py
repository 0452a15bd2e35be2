"""The local API: HTTP on loopback (or a unix socket), every request but /health needs
the bearer token kept in the data folder. `pynchy chat` is its client."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

from aiohttp import ClientConnectionResetError, web

from pynchy_cli.core.errors import NotFoundError, PynchyError
from pynchy_cli.core.file_modes import OTHERS, PRIVATE_FILE
from pynchy_cli.core.groups import find_group
from pynchy_cli.core.serve import messages as msgs
from pynchy_cli.core.serve.service import Service
from pynchy_cli.core.serve.web.auth import WebAuth
from pynchy_cli.core.serve.web.routes import add_web_routes

MAX_BODY = 256 * 1024
MAX_NAME = 200  # group names, senders and platform ids
MAX_ID = 2**63 - 1  # SQLite's largest integer
ID_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: int() also takes "1_0" and "٣"
log = logging.getLogger("pynchy.serve")
SERVICE_KEY = web.AppKey("service", Service)
KEEPALIVE_KEY = web.AppKey("keepalive", float)
KEEPALIVE_SECONDS = 15.0  # a comment line on /events this often: idle clients see it alive


def ensure_token(path: Path) -> str:
    """The API token: created once, readable only by its owner. One that other users
    could read (or an empty one, which would let anyone in) is replaced by a new one."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        token = path.read_text().strip()
        if token and not mode & OTHERS:
            return token
        why = f"open to other users (mode {mode:o})" if token else "empty"
        log.warning("the API token %s was %s; replaced it with a new one", path, why)
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class BadInput(Exception):
    """A request the API refuses with 400 and this one line."""


def make_app(
    service: Service, token: str, *, keepalive: float = KEEPALIVE_SECONDS
) -> web.Application:
    expected = token.encode()
    web_auth = WebAuth(service.ctx.paths, token)  # the web page's session cookie

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        """The token first (or the web page's session); then every refusal, whoever
        raises it, is one JSON error line."""
        if request.path != "/health" and not (
            _token_matches(request, expected) or web_auth.admits(request)
        ):
            return _error(401, "missing or wrong token")
        try:
            return await handler(request)
        except BadInput as exc:
            return _error(400, str(exc))
        except PynchyError as exc:
            return _error(404 if isinstance(exc, NotFoundError) else 400, exc.line())
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"request body larger than {MAX_BODY} bytes")
        except web.HTTPException as exc:  # aiohttp's own: unknown path, wrong method
            if exc.status < 400:
                raise
            return _error(exc.status, f"{exc.reason.lower()}: {request.method} {request.path}")
        except Exception:
            log.exception("api: %s %s failed", request.method, request.path)
            return _error(500, "internal error; see serve.log")

    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app[SERVICE_KEY] = service
    app[KEEPALIVE_KEY] = keepalive
    app.router.add_get("/health", health)
    app.router.add_get("/status", status)
    app.router.add_get("/groups/{name}/messages", read_messages)
    app.router.add_post("/groups/{name}/messages", post_message)
    app.router.add_get("/events", events)
    add_web_routes(app, service, web_auth)  # the web page: /, /web/...
    return app


def _token_matches(request: web.Request, expected: bytes) -> bool:
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    try:
        return hmac.compare_digest(given.encode(), expected)
    except UnicodeEncodeError:  # bytes no token has
        return False


def _group(request: web.Request):
    service = request.app[SERVICE_KEY]
    name = _text(request.match_info["name"], "the group name", MAX_NAME)
    group = find_group(service.db, name)
    if group is None:
        raise NotFoundError(f"no group named {name!r}", "List groups with: pynchy groups list")
    return service, group


def _text(value: Any, what: str, max_chars: int) -> str:
    """A string SQLite can store (no lone surrogates) of at most max_chars."""
    if not isinstance(value, str):
        raise BadInput(f"{what} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid Unicode (a lone surrogate)") from None
    if len(value) > max_chars:
        raise BadInput(f"{what} is longer than {max_chars} characters")
    return value


def _message_id(request: web.Request, name: str) -> int:
    """A query parameter that is a message id: 0 up to SQLite's largest integer."""
    raw = request.query.get(name, "0")
    if not ID_DIGITS.fullmatch(raw) or int(raw) > MAX_ID:
        raise BadInput(f"{name} must be a message id: a whole number from 0 to {MAX_ID}")
    return int(raw)


async def _json_object(request: web.Request, fields: dict[str, bool]) -> dict[str, Any]:
    """The body as a JSON object with only these fields (name -> required)."""
    shape = "body must be a JSON object: " + json.dumps({f: "..." for f in fields})
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, nested too deep
        raise BadInput(shape) from None
    if not isinstance(body, dict):
        raise BadInput(shape)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r}; {shape}")
    missing = [f for f, required in fields.items() if required and f not in body]
    if missing:
        raise BadInput(f"missing field {missing[0]!r}; {shape}")
    return body


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "stopping": request.app[SERVICE_KEY].stopping})


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE_KEY].status(), dumps=_dumps)


async def read_messages(request: web.Request) -> web.Response:
    service, group = _group(request)
    after = _message_id(request, "after")
    return web.json_response(
        {
            "group": group.name,
            "last_answered_id": group.last_answered_id,
            "last_id": msgs.last_message_id(service.db, group),
            "messages": msgs.messages_after(service.db, group, after),
        }
    )


async def post_message(request: web.Request) -> web.Response:
    service, group = _group(request)
    body = await _json_object(request, {"text": True, "sender": False, "kind": False, "id": False})
    text = _text(body["text"], "text", msgs.MAX_MESSAGE_CHARS)
    sender = _text(body.get("sender", "you"), "sender", MAX_NAME) or "you"
    kind = body.get("kind", "person")
    if kind not in ("person", "system"):
        raise BadInput('kind must be "person" or "system"')
    platform_id = body.get("id")
    if platform_id is not None:
        platform_id = _text(platform_id, "id", MAX_NAME)
    message, queued = await service.receive(
        group, sender, text, channel="terminal", sender_kind=kind, platform_id=platform_id
    )
    # Answered by the host at once (/status, /reset, approve ID): its reply is on the way
    # in the event stream, with the cursor past this message.
    now = find_group(service.db, group.name)
    answered = now is not None and now.last_answered_id >= message["id"]
    body = {"message": message, "queued": queued, "answered": answered}
    return web.json_response(body, status=201)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: messages, run events, run starts/ends and cursor moves."""
    service = request.app[SERVICE_KEY]
    group = request.query.get("group") or None
    if group is not None and find_group(service.db, _text(group, "group", MAX_NAME)) is None:
        raise NotFoundError(f"no group named {group!r}", "List groups with: pynchy groups list")
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    keepalive = request.app[KEEPALIVE_KEY]
    with service.bus.subscribe(group) as queue:
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=keepalive)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                else:
                    if event is None:  # serve stops: the client reconnects to the next one
                        break
                    await response.write(f"data: {_dumps(event)}\n\n".encode())
        except (ConnectionError, ClientConnectionResetError):
            # The client went away (a chat closed, a laptop slept): nothing to report.
            log.debug("events: client %s went away", request.remote)
    return response


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)
