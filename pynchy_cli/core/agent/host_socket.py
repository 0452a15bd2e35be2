"""The per-run unix socket the container talks to.

Everything that arrives here comes from a hostile container: each line is size-capped,
parsed, schema-checked and must carry the run's token and group. Refusals are answered,
recorded by `on_refused`, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.errors import PynchyError

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

# Open connections one run may hold. The agent needs one; a container holding thousands
# would use up the host's file descriptors (and with them every other group's runs).
MAX_CONNECTIONS = 32


class RunSocket:
    def __init__(
        self,
        path: Path,
        *,
        token: str,
        group: str,
        max_bytes: int,
        handler: Handler,
        on_refused: Callable[[str], None],
    ):
        self.path = path
        self.token = token
        self.group = group
        self.max_bytes = max_bytes
        self.handler = handler
        self.on_refused = on_refused
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=self.max_bytes
        )
        # The container's user may differ from ours; the token is what guards the socket.
        os.chmod(self.path, 0o666)

    async def close(self) -> None:
        if self._server:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _refuse(self, writer: asyncio.StreamWriter, reason: str) -> None:
        self.on_refused(reason)
        writer.write(protocol.reply_error(reason))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= MAX_CONNECTIONS:
            self._refuse(writer, f"too many connections (at most {MAX_CONNECTIONS} at once)")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()
            return
        task = asyncio.current_task()
        if task:
            self._connections.add(task)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():  # closed halfway through a request
                        self.on_refused("incomplete request: closed before its newline")
                    return  # the container closed its side
                except (asyncio.LimitOverrunError, ValueError):
                    # Too large to even read: answer, record, drop this connection only.
                    self._refuse(writer, f"request larger than {self.max_bytes} bytes")
                    await writer.drain()
                    return
                writer.write(await self._answer(line))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            if task:
                self._connections.discard(task)
            writer.close()

    async def _answer(self, line: bytes) -> bytes:
        try:
            token, group, op, body = protocol.check_request(protocol.decode(line))
        except protocol.ProtocolError as exc:
            self.on_refused(f"malformed request: {exc}")
            return protocol.reply_error(f"malformed request: {exc}")
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            self.on_refused("wrong token")
            return protocol.reply_error("wrong token")
        if group != self.group:
            self.on_refused(f"request for another group ({group[:64]})")
            return protocol.reply_error("wrong group")
        try:
            return protocol.reply_ok(await self.handler(op, body))
        except protocol.ProtocolError as exc:
            self.on_refused(f"invalid {op} request: {exc}")
            return protocol.reply_error(f"invalid {op} request: {exc}")
        except PynchyError as exc:
            return protocol.reply_error(exc.line())
