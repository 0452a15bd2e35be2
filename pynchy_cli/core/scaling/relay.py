"""Relaying a container's socket lines from a worker node to the run's socket in serve.

The protocol (pynchy_cli/protocol.py) is one request line, then one reply line, in order,
on each connection, so forwarding lines is enough. On the node, the node's agent serves a
unix socket per run (mounted into the container as the local socket is: the file alone)
and queues each line it reads. Serve pulls the queued lines, writes each to the run's
own socket on its machine (core/agent/host_socket.RunSocket: the token, size and schema
checks happen there, as for a local run) over a connection of its own per container
connection, and pushes the reply back. Only serve calls the node: nothing on a worker node
can reach serve's process, and no port is opened for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from pathlib import Path
from typing import Any

from pynchy_cli import protocol

log = logging.getLogger("pynchy.scaling")

PULL_WAIT = 5.0  # seconds a pull waits on the node for a line before it answers []
REPLY_LIMIT = 256 << 20  # a reply from serve (a model answer, a file) may be large


class NodeRelay:
    """The node side: a unix socket server whose lines wait in a queue for serve."""

    def __init__(self, path: Path, max_bytes: int):
        self.path = path
        self.max_bytes = max_bytes
        self.inbox: asyncio.Queue[tuple[int, bytes | None]] = asyncio.Queue()
        self.replies: dict[int, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=self.max_bytes
        )
        os.chmod(self.path, 0o666)  # the container's user may differ; the token guards it

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for future in self.replies.values():
            if not future.done():
                future.set_result(protocol.reply_error("the run ended"))
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = next(self._ids)
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    return
                except (asyncio.LimitOverrunError, ValueError):
                    too_large = f"request larger than {self.max_bytes} bytes"
                    writer.write(protocol.reply_error(too_large))
                    await writer.drain()
                    return
                future = asyncio.get_running_loop().create_future()
                self.replies[conn] = future
                self.inbox.put_nowait((conn, line))
                writer.write(await future)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self.replies.pop(conn, None)
            self.inbox.put_nowait((conn, None))  # serve closes its side of this connection
            writer.close()

    async def pull(self, wait: float = PULL_WAIT) -> list[tuple[int, bytes | None]]:
        """The lines (conn, line) waiting, at least one unless `wait` seconds pass first;
        (conn, None) says the container closed that connection."""
        try:
            first = await asyncio.wait_for(self.inbox.get(), wait)
        except TimeoutError:
            return []
        items = [first]
        while not self.inbox.empty():
            items.append(self.inbox.get_nowait())
        return items

    def push(self, conn: int, reply: bytes) -> None:
        future = self.replies.get(conn)
        if future is not None and not future.done():
            future.set_result(reply)


async def forward(agent: Any, run_id: str, socket_path: Path) -> None:
    """Serve's side, for one run: pull the run's lines from its node's agent until the
    agent is gone, answer each through the run's socket here, push the replies back.
    Cancel it to end."""
    conns: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Lock]] = {}
    pending: set[asyncio.Task] = set()

    async def answer(conn: int, line: bytes) -> None:
        try:
            await relay_line(conn, line)
        except Exception as exc:  # serve's socket closed (the run ended), or the node went
            log.debug("relay line dropped conn=%s: %s", conn, exc)

    async def relay_line(conn: int, line: bytes) -> None:
        if conn not in conns:
            reader, writer = await asyncio.open_unix_connection(str(socket_path), limit=REPLY_LIMIT)
            conns[conn] = (reader, writer, asyncio.Lock())
        reader, writer, lock = conns[conn]
        async with lock:  # one line, one reply, in order, even if the container pipelines
            writer.write(line)
            await writer.drain()
            reply = await reader.readline()
        reply = reply or protocol.reply_error("the host closed the socket")
        await agent.push.remote(run_id, conn, reply)

    try:
        while True:
            try:
                items = await agent.pull.remote(run_id)
            except Exception:  # the agent or its node is gone: nothing left to relay
                return
            for conn, line in items:
                if line is None:
                    _close(conns.pop(conn, None))
                    continue
                task = asyncio.create_task(answer(conn, line))
                pending.add(task)
                task.add_done_callback(pending.discard)
    finally:
        for task in list(pending):
            task.cancel()
        for entry in conns.values():
            _close(entry)


def _close(entry: tuple[Any, asyncio.StreamWriter, Any] | None) -> None:
    if entry is not None:
        entry[1].close()
