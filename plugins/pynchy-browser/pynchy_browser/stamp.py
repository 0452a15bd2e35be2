"""Which run a browser call belongs to, told to the MCP server in a way the agent cannot forge.

pynchy runs one MCP server process per run and tells it nothing about the run. The browser
needs to know the group (one browser per group) and the group's workspace on the host
(where screenshots go). The plugin's `pynchy_before_tool` hook, which pynchy calls on the
host before every tool call, adds a stamp to the arguments: the run id, group and workspace,
signed with a key that the same host process generated and gave the server in its
environment. The field is left out of the tools' input schemas, so models never see it; a
value an agent sends itself is replaced by the hook, and without a valid signature (say the
hook failed and was skipped) the server refuses the call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

FIELD = "pynchy_run"  # the hidden argument
KEY_ENV = "PYNCHY_BROWSER_KEY"


class StampError(Exception):
    """A call without a valid stamp: not one pynchy's host made."""


@dataclass(frozen=True)
class RunStamp:
    run_id: str
    group: str
    workspace: str  # the group's folder on the host


def new_key() -> str:
    return secrets.token_hex(32)


def _mac(key: str, payload: bytes) -> str:
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def access_token(key: str, container: str) -> str:
    """The token a browser container asks of every DevTools connection (recipe/entrypoint.py):
    derived from the key, so every server this host process started (a run's, its
    delegates') can reach the group's browser, and nothing else can."""
    return _mac(key, f"devtools-access\0{container}".encode())


def issue(key: str, stamp: RunStamp) -> str:
    payload = json.dumps([stamp.run_id, stamp.group, stamp.workspace]).encode()
    return base64.urlsafe_b64encode(payload).decode() + "." + _mac(key, payload)


def verify(key: str | None, token: object) -> RunStamp:
    if not key:
        raise StampError("the browser server has no key (it was not started by pynchy)")
    if not isinstance(token, str) or token.count(".") != 1:
        raise StampError("this call did not come through pynchy's host")
    encoded, mac = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(encoded.encode())
    except ValueError:
        raise StampError("this call's stamp is damaged") from None
    if not hmac.compare_digest(_mac(key, payload), mac):
        raise StampError("this call's stamp is not pynchy's")
    run_id, group, workspace = json.loads(payload)
    return RunStamp(run_id, group, workspace)
