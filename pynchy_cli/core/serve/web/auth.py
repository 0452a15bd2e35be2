"""Who may use the web page: the session cookie, the CSRF token and the Origin check.

The login takes the API token once (or a one-time link from `pynchy web`) and sets an
HttpOnly, SameSite=Strict cookie (Secure behind https), named after the port so two
serves on one machine keep their own. Every POST must come from the page's own origin
(Origin, else Referer, equal to scheme://Host) and carry the session's CSRF token, in
the form or in an X-CSRF-Token header.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from yarl import URL

from pynchy_cli.core.paths import Paths
from pynchy_cli.core.serve.web.sessions import SESSION_SECONDS, SessionStore

COOKIE = "pynchy_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
# Handlers wrapped by routes.py carry this attribute: they check the session themselves.
WEB_ROUTE = "pynchy_web_route"


def is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def own_origin(request: web.Request) -> str:
    return f"{'https' if is_https(request) else 'http'}://{request.host}"


def same_origin(request: web.Request) -> bool:
    """The request was made by a page of this origin (Origin, or Referer without it)."""
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if not referer:
            return False
        try:
            origin = str(URL(referer).origin())
        except ValueError:
            return False
    return origin == own_origin(request)


class WebAuth:
    def __init__(self, paths: Paths, api_token: str):
        self.paths = paths
        self._token = api_token.encode()
        self.sessions = SessionStore(paths.data_dir, api_token)

    def token_matches(self, given: str) -> bool:
        try:
            return hmac.compare_digest(given.strip().encode(), self._token)
        except UnicodeEncodeError:
            return False

    @staticmethod
    def cookie_name(request: web.Request) -> str:
        port = request.url.port
        return f"{COOKIE}_{port}" if port else COOKIE

    def session_id(self, request: web.Request) -> str | None:
        """The request's session, when its cookie names a live one."""
        session_id = request.cookies.get(self.cookie_name(request))
        return session_id if self.sessions.valid(session_id) else None

    def admits(self, request: web.Request) -> bool:
        """For the API's token guard: web routes check the session themselves, and
        GET /events takes the session cookie as well as the token."""
        if getattr(request.match_info.handler, WEB_ROUTE, False):
            return True
        return (
            request.path == "/events"
            and request.method in ("GET", "HEAD")
            and self.session_id(request) is not None
        )

    def start_session(self, request: web.Request, response: web.StreamResponse) -> None:
        response.set_cookie(
            self.cookie_name(request),
            self.sessions.create(),
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=is_https(request),
        )

    def end_session(self, request: web.Request, response: web.StreamResponse) -> None:
        self.sessions.end(request.cookies.get(self.cookie_name(request)))
        response.del_cookie(
            self.cookie_name(request),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=is_https(request),
        )

    def csrf_token(self, session_id: str) -> str:
        return self.sessions.csrf_token(session_id)

    def post_refusal(self, request: web.Request, session_id: str | None, form_token: str) -> str:
        """Why this POST is refused ('' when it is fine)."""
        if not same_origin(request):
            return "this request did not come from pynchy's own page (Origin check)"
        if session_id is None:
            return ""  # the login form: no session yet, the origin is the check
        given = request.headers.get(CSRF_HEADER) or form_token
        if not given or not self.sessions.csrf_matches(session_id, given):
            return "the form's CSRF token is missing or wrong; reload the page"
        return ""
