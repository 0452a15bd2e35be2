"""The hostile script's line to the host and its record of attempts (see attack.py).

Standard library only: it runs inside the agent container.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

SOCKET = os.environ.get("PYNCHY_SOCKET", "/run/pynchy/pynchy.sock")
TOKEN = os.environ["PYNCHY_RUN_TOKEN"]
GROUP = os.environ["PYNCHY_GROUP"]
RUN_ID = os.environ.get("PYNCHY_RUN_ID", "")
WORKSPACE = os.environ.get("PYNCHY_WORKSPACE", "/workspace")
RESULTS = os.path.join(WORKSPACE, "hostile-results.jsonl")
INPUT = os.path.join(WORKSPACE, "hostile-input.json")
SKILLS = os.path.join(WORKSPACE, ".claude", "skills")

SOCKET_REFUSED = ("socket", "refused", None)
lines: list[dict[str, Any]] = []  # this phase's attempts, as reported


# --- talking to the host ---------------------------------------------------------------


def encode(obj: Any) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def request(op: str, body: Any = None, token: Any = TOKEN, group: Any = GROUP, v: Any = 1) -> bytes:
    return encode({"v": v, "token": token, "group": group, "op": op, "body": body or {}})


def connect() -> socket.socket:
    """A new connection to the host. A unix socket whose backlog is full refuses at once
    (EAGAIN) instead of waiting: retry, as a client should, for a while."""
    deadline = time.monotonic() + 60
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)  # a hang guard: the host answers at once or not at all
        try:
            s.connect(SOCKET)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def exchange(raw: bytes, close_write: bool = False) -> dict[str, Any] | None:
    """Send raw bytes on a new connection; the host's one-line reply (None: it closed)."""
    s = connect()
    try:
        try:
            s.sendall(raw)
            if close_write:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the host stopped reading; its answer may be waiting
        data = s.makefile("rb").readline()
    finally:
        s.close()
    return json.loads(data) if data else None


def tool(name: Any, arguments: Any) -> dict[str, Any] | None:
    return exchange(request("tool", {"name": name, "input": arguments}))


def serving() -> bool:
    """The host still answers a well-formed request of this run."""
    reply = exchange(request("input"))
    return bool(reply and reply.get("ok") and reply["body"].get("run_id") == RUN_ID)


def refused_with(reply: Any, *words: str) -> bool:
    """A socket refusal naming each word."""
    error = str(reply.get("error", "")) if isinstance(reply, dict) else ""
    return isinstance(reply, dict) and reply.get("ok") is False and all(w in error for w in words)


def tool_error(reply: Any, *words: str) -> bool:
    """A host tool answered with an error naming each word (the call did not happen)."""
    if not (isinstance(reply, dict) and reply.get("ok")):
        return False
    body = reply.get("body", {})
    return body.get("is_error") is True and all(w in str(body.get("content")) for w in words)


def tool_ok(reply: Any) -> bool:
    return bool(reply and reply.get("ok") and reply["body"].get("is_error") is False)


# --- recording -------------------------------------------------------------------------


def clip(value: Any, size: int = 300) -> Any:
    text = value if isinstance(value, str) else json.dumps(value)
    return value if len(text) <= size else text[:size] + "..."


def report(
    name: str,
    sent: str,
    reply: Any,
    verdict: bool,
    audit: list[tuple] | tuple = (),
    setup: bool = False,
) -> None:
    """One attempt: an attack (`verdict`: it was refused) or a setup step (`verdict`: it
    worked). `audit` lists the rows it should leave, (action, decision, outcome) once
    each or (action, decision, outcome, count)."""
    entry = {
        "setup" if setup else "attack": name,
        "run": RUN_ID,
        "sent": clip(sent, 200),
        "reply": clip(reply),
        "ok" if setup else "refused": bool(verdict),
        "audit": [[*row, 1] if len(row) == 3 else list(row) for row in audit],
    }
    print(json.dumps(entry), flush=True)
    lines.append(entry)


def attempt(name: str, sent: str, audit: tuple = ()) -> Any:
    """Decorator that runs an attack at once and reports it. The function returns
    (reply, refused), or (reply, refused, audit rows) when the rows depend on the replies.
    An exception it did not expect counts as not refused: the host failed to answer."""

    def wrap(fn):
        rows = audit
        try:
            reply, refused, *computed = fn()
            rows = computed[0] if computed else audit
        except Exception as exc:  # anything unexpected is a failure of the host
            reply, refused = f"{type(exc).__name__}: {exc}", False
        report(name, sent, reply, refused, rows)
        return fn

    return wrap


def setup(name: str, tool_name: str, arguments: dict[str, Any]) -> None:
    """A host tool call that must work (it makes room for an attack): reported as a
    setup line, with the allowed-and-ok audit row it leaves."""
    try:
        reply = tool(tool_name, arguments)
    except Exception as exc:  # the host failed to answer
        reply = f"{type(exc).__name__}: {exc}"
    row = (f"tool:{tool_name}", "allowed", "ok")
    report(name, f"{tool_name} {clip(arguments, 80)}", reply, tool_ok(reply), [row], setup=True)


def summary(entries: list[dict[str, Any]], label: str = "hostile") -> str:
    attacks = [e for e in entries if "attack" in e]
    refused = sum(1 for e in attacks if e["refused"])
    return f"{label}: {len(attacks)} attacks, {refused} refused, {len(attacks) - refused} succeeded"


def save(append: bool = False) -> None:
    with open(RESULTS, "a" if append else "w") as f:
        for entry in lines:
            f.write(json.dumps(entry) + "\n")


def load() -> list[dict[str, Any]]:
    with open(RESULTS) as f:
        return [json.loads(line) for line in f if line.strip()]
