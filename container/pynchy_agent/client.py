"""The agent's line to the host: one unix socket connection, one JSON line each way."""

from __future__ import annotations

import os
import socket
from typing import Any

from pynchy_cli import protocol


class HostError(RuntimeError):
    """The host refused or failed a request."""


class HostClient:
    def __init__(self, path: str, token: str, group: str, timeout: float = 900.0):
        self.token = token
        self.group = group
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(path)
        self._file = self._sock.makefile("rb")

    @classmethod
    def from_env(cls) -> HostClient:
        path = os.environ.get(protocol.ENV_SOCKET) or os.path.join(
            protocol.SOCKET_DIR, protocol.SOCKET_NAME
        )
        return cls(path, os.environ[protocol.ENV_TOKEN], os.environ[protocol.ENV_GROUP])

    def call(self, op: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self._sock.sendall(protocol.request(self.token, self.group, op, body))
        line = self._file.readline()
        if not line:
            raise HostError("the host closed the connection")
        reply = protocol.decode(line)
        if not reply.get("ok"):
            raise HostError(str(reply.get("error", "request refused")))
        body = reply.get("body", {})
        return body if isinstance(body, dict) else {}

    def event(self, kind: str, **data: Any) -> None:
        self.call(protocol.OP_EVENT, {"kind": kind, "data": data})

    def close(self) -> None:
        try:
            self._file.close()
            self._sock.close()
        except OSError:
            pass
