"""Local HTTP servers that speak the model providers' wire formats, for tests.

Each is a real HTTP server on 127.0.0.1 (ephemeral port) in a background thread, driven
through the provider's real client library. A test queues the replies the "model" gives,
then reads back every request that arrived:

    with AnthropicServer(key="sk-ant-test") as srv:
        srv.reply_tool_use("bash", {"command": "ls"})
        srv.reply_text("done")
        ...  # point a client at srv.base_url
        srv.requests[1].body["messages"][-1]

Requests are validated about as strictly as the real APIs do, so a wrong mapping fails
the way it would in production: with an HTTP 400 in the provider's error shape.
`fail(status, times)` makes the next requests fail (500, 529, 429 ...) for error paths.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # the decoded JSON body, or None when it was not JSON
    raw: bytes = b""


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-encoded unless stream events are given
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[str] | None = None  # pre-encoded server-sent-event chunks


class ApiError(Exception):
    """Raised by a handler to answer with an error status."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class FakeServer:
    """Base: threads, recording, scripted replies and injected failures.

    Subclasses set `routes` ({path: method name}) and implement `error_body` and
    `check_auth`; route methods take the request and return a Response.
    """

    routes: dict[str, str] = {}
    get_routes: frozenset[str] = frozenset()  # routes answered to GET (no body) instead of POST
    base_path = ""

    def __init__(self, key: str | None = "sk-test-key") -> None:
        self.key = key
        self.requests: list[RecordedRequest] = []
        self.replies: deque[dict[str, Any]] = deque()
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> FakeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                server._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        httpd = self._httpd
        self._thread = threading.Thread(
            target=lambda: httpd.serve_forever(poll_interval=0.01), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    # --- scripting --------------------------------------------------------------------

    def fail(self, status: int = 500, times: int = 1, retry_after_ms: int | None = 1) -> None:
        """Answer the next `times` requests with `status`. A small retry-after-ms keeps
        the clients' retry back-off short (the real APIs send retry-after too)."""
        headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
        with self._lock:
            self._failures.extend([(status, headers)] * times)

    def _next_reply(self) -> dict[str, Any]:
        with self._lock:
            if not self.replies:
                raise ApiError(400, "invalid_request_error", "fake server: no reply queued")
            return self.replies.popleft()

    def next_id(self) -> int:
        return next(self._ids)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    # --- to implement -----------------------------------------------------------------

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def failure_kind(self, status: int) -> tuple[str, str]:
        return "api_error", "Internal server error"

    def check_auth(self, request: RecordedRequest) -> None:
        raise NotImplementedError

    # --- plumbing ---------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        request = RecordedRequest(
            method=handler.command,
            path=handler.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            raw=raw,
        )
        with self._lock:
            self.requests.append(request)
            failure = self._failures.popleft() if self._failures else None
        try:
            route = self.routes.get(request.path)
            is_get = request.path in self.get_routes
            if route is None or request.method != ("GET" if is_get else "POST"):
                raise ApiError(404, "not_found_error", f"{request.method} {request.path} not found")
            self.check_auth(request)
            if failure is not None:
                status, headers = failure
                kind, message = self.failure_kind(status)
                response = Response(status, self.error_body(status, kind, message), headers)
            elif not is_get and not isinstance(body, dict):
                raise ApiError(400, "invalid_request_error", "the body must be a JSON object")
            else:
                response = getattr(self, route)(request)
        except ApiError as err:
            response = Response(err.status, self.error_body(err.status, err.kind, err.message))
        self._send(handler, response)

    def _send(self, handler: BaseHTTPRequestHandler, response: Response) -> None:
        if response.sse is not None:
            payload = "".join(response.sse).encode()
            content_type = "text/event-stream"
        else:
            payload = json.dumps(response.body).encode()
            content_type = "application/json"
        handler.send_response(response.status)
        handler.send_header("content-type", content_type)
        handler.send_header("content-length", str(len(payload)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)


def require(cond: bool, message: str, status: int = 400, kind: str = "invalid_request_error"):
    if not cond:
        raise ApiError(status, kind, message)
