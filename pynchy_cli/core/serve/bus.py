"""In-process publish/subscribe for live events (messages, run events, cursors)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class Bus:
    def __init__(self, max_backlog: int = 1000):
        self._subscribers: set[tuple[asyncio.Queue[dict[str, Any] | None], str | None]] = set()
        self._max = max_backlog

    def publish(self, event: dict[str, Any]) -> None:
        for queue, group in list(self._subscribers):
            if group is None or event.get("group") == group:
                with contextlib.suppress(asyncio.QueueFull):  # a stalled client loses events,
                    queue.put_nowait(event)  # never the service

    def close(self) -> None:
        """serve stops: every subscriber gets None, its sign to end its stream."""
        for queue, _ in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    @contextlib.contextmanager
    def subscribe(self, group: str | None = None):
        entry = (asyncio.Queue(self._max), group)
        self._subscribers.add(entry)
        try:
            yield entry[0]
        finally:
            self._subscribers.discard(entry)
