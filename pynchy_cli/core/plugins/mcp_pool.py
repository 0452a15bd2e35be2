"""MCP servers kept running between runs: started on demand, stopped when idle.

A server that sees the workspace (`container`, `map_paths`), a `shareable` one or one
with `idle_stop` is not stopped with the run that started it: the next run of the same
group (of any group, when shareable) reuses it, so a container is not started afresh
for every message. There is one per (server, group), or one per server when shareable,
in each pynchy process (serve runs every run in one event loop). It stops `idle_stop`
seconds (default DEFAULT_IDLE_STOP) after its last call ended, never during a call. When
the event loop ends (`pynchy agent run` exits) asyncio cancels what is left, and each
server stops the same way: its stdin closed, then its container removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

DEFAULT_IDLE_STOP = 300.0

Starter = Callable[[], Awaitable[Any]]  # starts a connection (mcp_host._Connection)


@dataclass
class _Entry:
    conn: Any
    idle: float
    inflight: int = 0
    last_used: float = field(default_factory=time.monotonic)
    timer: asyncio.TimerHandle | None = None


class McpPool:
    """The long-lived server connections of one event loop."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    async def connection(self, key: Hashable, idle: float | None, start: Starter) -> Any:
        """The running connection for `key`, started (by `start`) if there is none or
        the one there died."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)
            if entry is not None and entry.conn.session is not None:
                return entry.conn
            if entry is not None:
                self._stop(key, entry)
            conn = await start()
            entry = self._entries[key] = _Entry(conn, idle or DEFAULT_IDLE_STOP)
            self._arm(key, entry)  # started for a listing: idle from now
            return conn

    @contextlib.contextmanager
    def using(self, key: Hashable) -> Iterator[None]:
        """Around one call: the server does not stop meanwhile, and idles from its end."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.inflight += 1
        try:
            yield
        finally:
            if entry is not None:
                entry.inflight -= 1
                entry.last_used = time.monotonic()
                if self._entries.get(key) is entry:
                    self._arm(key, entry)

    def running(self) -> list[Hashable]:
        return [k for k, e in self._entries.items() if e.conn.session is not None]

    def _arm(self, key: Hashable, entry: _Entry) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
        left = max(entry.last_used + entry.idle - time.monotonic(), 0.0)
        loop = asyncio.get_running_loop()
        entry.timer = loop.call_later(left, self._expire, key, entry)

    def _expire(self, key: Hashable, entry: _Entry) -> None:
        if self._entries.get(key) is not entry or entry.inflight:
            return  # replaced, or busy: the call's end arms it again
        if time.monotonic() - entry.last_used < entry.idle:
            self._arm(key, entry)
            return
        self._stop(key, entry)

    def _stop(self, key: Hashable, entry: _Entry) -> None:
        self._entries.pop(key, None)
        if entry.timer is not None:
            entry.timer.cancel()
        task = asyncio.get_running_loop().create_task(entry.conn.close())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def aclose(self) -> None:
        """Stop every server now."""
        for key, entry in list(self._entries.items()):
            self._stop(key, entry)
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)


_POOLS: weakref.WeakKeyDictionary[Any, McpPool] = weakref.WeakKeyDictionary()  # loop -> pool


def current_pool() -> McpPool:
    """The pool of the running event loop (a closed loop's servers went with it)."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = McpPool()
    return pool
