"""What every web view shares: the state on the app, the request's session, and the
responses (HTML with the security headers, JSON, redirects)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pynchy_cli.core.serve.web.auth import WebAuth

if TYPE_CHECKING:
    from pynchy_cli.core.serve.service import Service

# Nothing inline, nothing from elsewhere: scripts, styles, images and connections come
# from this origin only (SVG charts are markup, not style).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
WEB_SENDER = "you"  # the sender of what a person writes on the page (as `pynchy chat`)


@dataclass
class WebState:
    service: Service
    auth: WebAuth


STATE = web.AppKey("web", WebState)
SESSION = "pynchy.web.session"  # request key: the session id, set by routes.py
FORM = "pynchy.web.form"  # request key: a POST's form, read once by routes.py


class Refused(Exception):
    """A request the page refuses with this status and one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def state(request: web.Request) -> WebState:
    return request.app[STATE]


def service(request: web.Request) -> Service:
    return request.app[STATE].service


def csrf(request: web.Request) -> str:
    session_id = request.get(SESSION)
    return state(request).auth.csrf_token(session_id) if session_id else ""


def form(request: web.Request) -> Any:
    return request.get(FORM) or {}


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/web/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def html_response(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, headers=SECURITY_HEADERS, dumps=lambda o: json.dumps(o, default=str)
    )


def redirect(location: str) -> web.Response:
    """303: after a POST the browser GETs the page (reloading it posts nothing again)."""
    return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": location})


def local_page(path: str | None, default: str = "/web/") -> str:
    """A path of this web page to go to next; anything else (another site, //host,
    backslashes) is the default."""
    if not path or not path.startswith("/web/") or "//" in path or "\\" in path:
        return default
    return path
