"""The local API refuses bad input with one clear JSON error, never a 500, and keeps serving."""

from __future__ import annotations

import contextlib
import json
import socket

import pytest
from servehelp import Serve

from pynchy_cli.core.serve.api import MAX_BODY


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    home = tmp_path_factory.mktemp("api") / "home"
    home.mkdir()
    service = Serve(home).start()
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def raw(serve: Serve, method: str, path: str, body: bytes = b"", token: bytes | None = None):
    """One HTTP request as bytes on the wire (so anything can be sent): (status, JSON body)."""
    token = serve.token.encode() if token is None else token
    head = (
        (
            f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        ).encode()
        + b"Authorization: Bearer "
        + token
        + b"\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", serve.port), timeout=10) as conn:
        # Refused before the whole body was read? The answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload)


MESSAGES = "/groups/main/messages"
TOO_BIG_ID = 2**63  # one past SQLite's largest integer


@pytest.mark.parametrize(
    "query, status",
    [
        (f"after={TOO_BIG_ID}", 400),
        (f"after={10**40}", 400),
        ("after=-1", 400),
        ("after=abc", 400),
        ("after=1_0", 400),  # Python's int() would take it
        ("after=%D9%A3", 400),  # an Arabic-Indic three, also taken by int()
        ("after=", 400),
        (f"after={TOO_BIG_ID - 1}", 200),
        ("after=0", 200),
    ],
)
def test_message_ids_in_the_query(serve, query, status):
    code, body = raw(serve, "GET", f"{MESSAGES}?{query}")
    assert code == status, body
    if status == 400:
        assert body == {
            "error": f"after must be a message id: a whole number from 0 to {TOO_BIG_ID - 1}"
        }


@pytest.mark.parametrize(
    "body, error",
    [
        (b"[1, 2]", "body must be a JSON object"),
        (b'"hello"', "body must be a JSON object"),
        (b"{", "body must be a JSON object"),
        (b"\xff\xfe{}", "body must be a JSON object"),
        (b"[" * 100_000, "body must be a JSON object"),  # deeper than the decoder goes
        (b"", "body must be a JSON object"),
        (b"{}", "missing field 'text'"),
        (b'{"text": "hi", "txt": "typo"}', "unknown field 'txt'"),
        (b'{"text": 5}', "text must be a string"),
        (b'{"text": null}', "text must be a string"),
        (b'{"text": "hi", "sender": 5}', "sender must be a string"),
        (b'{"text": "hi", "sender": ["ann"]}', "sender must be a string"),
        (b'{"text": "hi", "id": 9223372036854775808}', "id must be a string"),
        (b'{"text": "hi", "kind": "assistant"}', 'kind must be "person" or "system"'),
        (b'{"text": "\\ud800"}', "text is not valid Unicode"),
        (b'{"text": "hi", "sender": "\\udc80"}', "sender is not valid Unicode"),
        (b'{"text": "hi", "id": "\\udfff"}', "id is not valid Unicode"),
        (b'{"text": "hi", "sender": "' + b"a" * 201 + b'"}', "sender is longer than 200"),
        (b'{"text": "' + b"a" * 32_001 + b'"}', "text is longer than 32000"),
        (b'{"text": "   "}', "empty message"),
    ],
)
def test_message_bodies(serve, body, error):
    code, answer = raw(serve, "POST", MESSAGES, body)
    assert code == 400, answer
    assert set(answer) == {"error"} and answer["error"].startswith(error)


def test_an_oversized_body_is_413(serve):
    body = json.dumps({"text": "a" * (MAX_BODY + 1)}).encode()
    code, answer = raw(serve, "POST", MESSAGES, body)
    assert code == 413
    assert answer == {"error": f"request body larger than {MAX_BODY} bytes"}


@pytest.mark.parametrize(
    "method, path, status, error",
    [
        ("GET", "/nowhere", 404, "not found: GET /nowhere"),
        ("DELETE", "/status", 405, "method not allowed: DELETE /status"),
        ("GET", "/groups/nobody/messages", 404, "no group named 'nobody'"),
        ("GET", "/events?group=nobody", 404, "no group named 'nobody'"),
        ("GET", "/events?group=%ED%A0%80", 404, "no group named"),  # decoded as U+FFFD
    ],
)
def test_paths_methods_and_groups(serve, method, path, status, error):
    code, answer = raw(serve, method, path)
    assert code == status and answer["error"].startswith(error), answer


@pytest.mark.parametrize("token", [b"", b"wrong", b"\xff\xfe\x80", "é".encode()])
def test_any_wrong_token_is_401(serve, token):
    assert raw(serve, "GET", "/status", token=token) == (401, {"error": "missing or wrong token"})


def test_still_serving_and_nothing_crashed(serve):
    # Run last in this module: every refusal above left serve healthy and its log clean.
    code, sent = raw(serve, "POST", MESSAGES, b'{"text": "hi", "sender": "ann", "id": "m-1"}')
    assert code == 201 and sent["queued"] is True
    assert serve.get("/health", auth=False)["ok"] is True
    log = (serve.home / "logs" / "serve.log").read_text() + serve.log.read_text()
    assert "Traceback" not in log and "internal error" not in log
