"""Logging in and out: the API token once (the login form), or a one-time link made by
`pynchy web`; both set the session cookie. Logging out ends the session on serve too."""

from __future__ import annotations

from aiohttp import web

from pynchy_cli.core.serve.web.base import (
    Refused,
    form,
    html_response,
    local_page,
    redirect,
    service,
    state,
)
from pynchy_cli.core.serve.web.html import Html, fmt
from pynchy_cli.core.serve.web.layout import page
from pynchy_cli.core.serve.web.links import take_link_code


def login_form(request: web.Request, problem: str = "", next_page: str = "/web/") -> str:
    token_file = service(request).ctx.paths.api_token_file
    body = fmt(
        '<div class="login"><h1>Log in to pynchy</h1>{problem}'
        '<form method="post" action="/web/login">'
        '<input type="hidden" name="next" value="{next}">'
        '<label for="token">API token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'required autofocus aria-describedby="token-hint"{invalid}>'
        '<p id="token-hint" class="hint">It is in <code>{file}</code>. Or run '
        "<code>pynchy web</code> on this machine: it opens this page logged in.</p>"
        '<button type="submit">Log in</button></form></div>',
        problem=fmt('<p class="problem" role="alert" id="problem">{p}</p>', p=problem)
        if problem
        else "",
        next=next_page,
        invalid=Html(' aria-invalid="true"') if problem else Html(""),
        file=str(token_file),
    )
    return page(request, "Log in", body, signed_in=False)


async def login_page(request: web.Request) -> web.Response:
    next_page = local_page(request.query.get("next"))
    if state(request).auth.session_id(request):
        return redirect(next_page)
    return html_response(login_form(request, next_page=next_page))


async def login(request: web.Request) -> web.Response:
    """The form's POST (its Origin is checked by routes.py like every POST)."""
    fields = form(request)
    next_page = local_page(fields.get("next"))
    auth = state(request).auth
    if not auth.token_matches(str(fields.get("token", ""))):
        return html_response(login_form(request, "That is not the API token.", next_page), 401)
    response = redirect(next_page)
    auth.start_session(request, response)
    return response


async def link(request: web.Request) -> web.Response:
    """A one-time link from `pynchy web`: good once, for two minutes."""
    page_path = take_link_code(service(request).ctx.paths, request.query.get("code", ""))
    if page_path is None:
        raise Refused(403, "This login link was already used or has expired. Run pynchy web again.")
    response = redirect(page_path)
    state(request).auth.start_session(request, response)
    return response


async def logout(request: web.Request) -> web.Response:
    response = redirect("/web/login")
    state(request).auth.end_session(request, response)
    return response
