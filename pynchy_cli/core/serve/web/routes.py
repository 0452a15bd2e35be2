"""The web page's routes on the local API's application, each behind one wrapper: no
session means the login page (or 401 for the JSON API), every POST passes the Origin
and CSRF checks, and every refusal is one line, as a page or as JSON."""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from pynchy_cli.core.errors import NotFoundError, PynchyError
from pynchy_cli.core.serve.web import approvals, chat, login, runs, status, usage
from pynchy_cli.core.serve.web.auth import CSRF_FIELD, WEB_ROUTE, WebAuth
from pynchy_cli.core.serve.web.base import (
    FORM,
    SECURITY_HEADERS,
    SESSION,
    STATE,
    Refused,
    WebState,
    html_response,
    json_response,
    redirect,
    state,
    wants_json,
)
from pynchy_cli.core.serve.web.html import fmt
from pynchy_cli.core.serve.web.layout import STATIC_DIR, page

if TYPE_CHECKING:
    from pynchy_cli.core.serve.service import Service

Handler = Callable[[web.Request], Awaitable[Any]]


def add_web_routes(app: web.Application, service: Service, auth: WebAuth) -> None:
    """Mount the page on the API's app (`pynchy_cli/core/serve/api.py:make_app`)."""
    app[STATE] = WebState(service, auth)
    add = app.router.add_route
    add("GET", "/", _guarded(_home, public=True))
    add("GET", "/web", _guarded(_home, public=True))
    add("GET", "/web/login", _guarded(login.login_page, public=True))
    add("POST", "/web/login", _guarded(login.login, public=True))
    add("GET", "/web/link", _guarded(login.link, public=True))
    add("GET", "/web/static/{file}", _guarded(_static_files(), public=True))
    add("POST", "/web/logout", _guarded(login.logout))
    add("GET", "/web/", _guarded(chat.overview))
    add("GET", "/web/groups/{name}", _guarded(chat.chat_page))
    add("POST", "/web/groups/{name}/messages", _guarded(chat.send))
    add("GET", "/web/approvals", _guarded(approvals.approvals_page))
    add("POST", "/web/approvals/{approval_id}", _guarded(approvals.decide))
    add("GET", "/web/runs", _guarded(runs.runs_page))
    add("GET", "/web/runs/{run_id}", _guarded(runs.transcript_page))
    add("GET", "/web/tasks", _guarded(status.tasks_page))
    add("GET", "/web/usage", _guarded(usage.usage_page))
    add("GET", "/web/health", _guarded(status.health_page))
    add("GET", "/web/api/groups/{name}/messages", _guarded(chat.messages_api))
    add("GET", "/web/api/approvals", _guarded(approvals.approvals_api))
    add("GET", "/web/api/health", _guarded(_health_api))
    add("*", "/web/{tail:.*}", _guarded(_not_found))


def _guarded(handler: Handler, *, public: bool = False) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        auth = state(request).auth
        session_id = auth.session_id(request)
        request[SESSION] = session_id
        try:
            if session_id is None and not public:
                if wants_json(request) or request.method not in ("GET", "HEAD"):
                    raise Refused(401, "log in first: missing or expired session")
                return redirect("/web/login?next=" + quote(request.path_qs, safe=""))
            if request.method == "POST":
                try:
                    fields = request[FORM] = await request.post()
                except ValueError:  # a malformed form body
                    raise Refused(400, "the form could not be read") from None
                why = auth.post_refusal(
                    request, None if public else session_id, str(fields.get(CSRF_FIELD, ""))
                )
                if why:
                    raise Refused(403, why)
            answer = await handler(request)
        except Refused as exc:
            return _refusal(request, exc.status, str(exc))
        except NotFoundError as exc:
            return _refusal(request, 404, exc.line())
        except PynchyError as exc:
            return _refusal(request, 400, exc.line())
        return html_response(answer) if isinstance(answer, str) else answer

    setattr(guarded, WEB_ROUTE, True)
    guarded.__name__ = getattr(handler, "__name__", "web")
    return guarded


def _refusal(request: web.Request, status: int, message: str) -> web.Response:
    if wants_json(request):
        return json_response({"error": message}, status)
    signed_in = request.get(SESSION) is not None
    body = fmt(
        '<h1>{title}</h1><p class="problem" role="alert">{m}</p><p><a href="{home}">{back}</a></p>',
        title="Not found" if status == 404 else "Refused",
        m=message,
        home="/web/" if signed_in else "/web/login",
        back="Back to the chats" if signed_in else "Log in",
    )
    return html_response(page(request, "Refused", body, signed_in=signed_in), status)


async def _home(request: web.Request) -> web.Response:
    return redirect("/web/")


async def _not_found(request: web.Request) -> web.Response:
    raise Refused(404, f"no page at {request.path}")


async def _health_api(request: web.Request) -> web.Response:
    return json_response(status.health_data(request))


def _static_files() -> Handler:
    """The shipped assets (static/ in the package), read once; nothing else is served."""
    files = {}
    for path in STATIC_DIR.iterdir():
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files[path.name] = (path.read_bytes(), kind)

    async def static(request: web.Request) -> web.Response:
        found = files.get(request.match_info["file"])
        if found is None:
            raise Refused(404, "no such file")
        body, kind = found
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"}
        return web.Response(body=body, content_type=kind, headers=headers)

    return static
