"""Following one group for `pynchy chat`: its live events, across serve restarts.

A lost connection is retried with backoff, each time at the address serve recorded last
(it may have come back on another port). After a reconnect the feed first yields what was
stored meanwhile (messages after the last id it yielded, then the cursor), so nothing is
missed and nothing is shown twice. Lines sent while serve is down are kept and sent once it
is back, each under its own id, so that a retry of a line serve did store is stored once.

Besides serve's own events the feed yields its state as `{"type": "feed", "state": S}`:
`lost` (reconnecting), `back` (reconnected, after the catch-up) and `sent` (a kept line
went out; with serve's `message` and `queued`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.serve.client import START_HINT, ApiClient

BACKOFF_SECONDS = (0.25, 0.5, 1.0, 2.0, 4.0, 5.0)  # between attempts; the last one repeats
PAGE = 200  # the API's page of messages


class GroupFeed:
    def __init__(
        self,
        connect: Callable[[], ApiClient],
        group: str,
        me: str,
        *,
        give_up_after: float | None = None,
    ):
        """`connect` makes a client for serve's current address; `give_up_after`: seconds
        without serve before events() raises UnavailableError (None: never give up)."""
        self.connect = connect
        self.group = group
        self.me = me
        self.give_up_after = give_up_after
        self.client: ApiClient | None = None
        self.online = False  # connected, caught up and nothing kept back: send directly
        self.first_connection = asyncio.Event()  # set once the feed has been online
        self.pending: list[tuple[str, str]] = []  # (message id, text) kept while serve is down
        self.last_id = 0  # the newest message id yielded (or there when the chat began)
        self.last_answered_id = 0
        self._floor = 0  # messages up to this one were there before: not shown
        self._seen: set[int] = set()
        self._subscribed = False  # the current attempt got through

    async def open(self) -> dict[str, Any]:
        """The first contact: a wrong group or a serve that is not running raises here."""
        self.client = self.connect()
        page = await self.client.messages(self.group)
        self.last_id = self._floor = int(page.get("last_id") or 0)
        self.last_answered_id = int(page["last_answered_id"])
        return page

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    @property
    def where(self) -> str:
        return self.client.where if self.client else "?"

    async def send(self, text: str) -> dict[str, Any] | None:
        """Post a line; None when serve is not reachable: the line is kept, and sent (a
        `sent` event) once serve is back."""
        item = (f"chat-{secrets.token_hex(8)}", text)
        if not self.online or self.client is None:
            self.pending.append(item)
            return None
        try:
            return await self.client.send(self.group, text, self.me, message_id=item[0])
        except UnavailableError:
            self.pending.append(item)
            return None

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        attempt, lost_at, reconnect = 0, None, False
        while True:
            self._subscribed = False
            try:
                async for event in self._connection(reconnect):
                    yield event
            except UnavailableError:
                pass
            self.online = False
            reconnect = True
            if self._subscribed:  # connected, then lost: say so once, retry at once
                attempt, lost_at = 0, loop.time()
                yield {"type": "feed", "state": "lost", "where": self.where}
                continue
            lost_at = loop.time() if lost_at is None else lost_at
            if self.give_up_after is not None and loop.time() - lost_at >= self.give_up_after:
                raise UnavailableError(
                    f"pynchy serve is not reachable at {self.where}"
                    f" (gave up after {self.give_up_after:g}s)",
                    START_HINT,
                )
            await asyncio.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
            attempt += 1

    async def _connection(self, reconnect: bool) -> AsyncIterator[dict[str, Any]]:
        """One connection: subscribe, catch up on what came before it, send what was kept,
        then serve's live events until the connection ends (UnavailableError)."""
        if reconnect or self.client is None:
            if self.client is not None:
                await self.client.close()
            self.client = self.connect()  # serve's address now
        client = self.client
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        subscribed = asyncio.Event()

        async def pump() -> None:
            async for event in client.events(self.group, on_connect=subscribed.set):
                queue.put_nowait(event)

        pumping = asyncio.create_task(pump())
        try:
            await _first_of(subscribed.wait(), pumping)
            if not subscribed.is_set():
                pumping.result()  # its error
                raise UnavailableError(f"serve at {client.where} closed the event stream")
            self._subscribed = True
            async for event in self._catch_up(client):
                yield event
            if reconnect:
                yield {"type": "feed", "state": "back", "where": client.where}
            while self.pending:
                message_id, text = self.pending[0]
                sent = await client.send(self.group, text, self.me, message_id=message_id)
                self.pending.pop(0)
                yield {"type": "feed", "state": "sent", "text": text, **sent}
            self.online = True
            self.first_connection.set()
            while True:
                getter = asyncio.ensure_future(queue.get())
                await _first_of(getter, pumping)  # cancels the getter if the stream ended
                if getter.done() and not getter.cancelled():
                    event = getter.result()
                elif not queue.empty():
                    event = queue.get_nowait()
                else:  # the stream ended
                    pumping.result()
                    raise UnavailableError(f"serve at {client.where} closed the event stream")
                if self._fresh(event):
                    yield event
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pumping

    async def _catch_up(self, client: ApiClient) -> AsyncIterator[dict[str, Any]]:
        """What serve stored while the feed was away, then where the cursor stands."""
        while True:
            page = await client.messages(self.group, after=self.last_id)
            for message in page["messages"]:
                event = {"type": "message", "group": self.group, **message}
                if self._fresh(event):
                    yield event
            if len(page["messages"]) < PAGE:
                break
            self.last_id = max(self.last_id, page["messages"][-1]["id"])
        self.last_answered_id = int(page["last_answered_id"])
        yield {"type": "cursor", "group": self.group, "last_answered_id": self.last_answered_id}

    def _fresh(self, event: dict[str, Any]) -> bool:
        """False for a message already yielded, or stored before the chat began."""
        if event.get("type") == "cursor":
            self.last_answered_id = max(self.last_answered_id, event["last_answered_id"])
        message_id = event.get("id") if event.get("type") == "message" else None
        if not isinstance(message_id, int):
            return True  # not a stored message (run events, an agent's send_message)
        if message_id in self._seen or message_id <= self._floor:
            return False
        self._seen.add(message_id)
        self.last_id = max(self.last_id, message_id)
        return True


async def _first_of(awaitable: Any, task: asyncio.Task) -> None:
    """Wait for `awaitable` or for `task` to end, whichever comes first."""
    waiter = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
