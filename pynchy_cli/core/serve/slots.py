"""The global limit on agent runs at once (limits.max_concurrent).

A run holds a slot from before its container starts until it ends, including the time a
warm container waits for follow-ups. When every slot is taken, the holders are asked to
give theirs back: a warm container then stops waiting instead of idling while another
group queues.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from pynchy_cli.core.groups import Group

GiveBack = Callable[[], None]  # asks a holder to end its follow-up wait; must not block


class SlotPool:
    def __init__(self, limit: int):
        self.limit = limit
        self._free = asyncio.Semaphore(limit)
        self._holders: dict[object, GiveBack] = {}
        self._waiting = 0

    @property
    def in_use(self) -> int:
        return len(self._holders)

    @contextlib.asynccontextmanager
    async def slot(self, group: Group, give_back: GiveBack) -> AsyncIterator[None]:
        """Wait for a free slot and hold it for one run of `group`. `give_back` is called
        whenever another run waits for a slot while this one holds it."""
        self._waiting += 1
        try:
            if self._free.locked():
                self.reclaim_warm()
            await self._free.acquire()
        finally:
            self._waiting -= 1
        token = object()
        self._holders[token] = give_back
        if self._waiting:  # others queue behind this run: it must not idle warm either
            give_back()
        try:
            yield
        finally:
            del self._holders[token]
            self._free.release()

    def reclaim_warm(self) -> None:
        """Ask every holder to give its slot back once its run has answered."""
        for give_back in list(self._holders.values()):
            give_back()

    # What the Ray pool (core/scaling/pool.py) does beyond slots, local mode's way.

    async def start(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to disconnect from."""

    def runtime_for(self, group: Group) -> None:
        """No placement: the run takes the configured runtime."""

    def retry(self, group: Group) -> bool:
        """A local run has no node to lose: never run again."""
        return False

    def status(self) -> dict[str, Any]:
        return {"scaling": "local", "limit": self.limit, "in_use": self.in_use}
