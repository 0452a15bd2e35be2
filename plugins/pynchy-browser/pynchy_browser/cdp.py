"""A small Chrome DevTools Protocol client over aiohttp's websocket (pynchy already
depends on aiohttp): send a command and await its answer, wait for an event.

Only the host's 127.0.0.1 is ever dialled: the container publishes its DevTools port there.
The websocket URL chromium reports names the container's own port, so it is rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

MAX_MESSAGE = 64 * 1024 * 1024  # a full-page screenshot, base64
COMMAND_TIMEOUT = 30.0

Event = dict[str, Any]
Waiting = asyncio.Future  # of an Event


TOKEN_HEADER = "X-Pynchy-Browser"  # the container's DevTools ask for it (its entrypoint)


class CdpError(Exception):
    """The browser refused a command, or the connection is gone."""


class CdpRefused(CdpError):
    """The browser's DevTools refused this host's access token: not this host's browser."""


async def page_socket_url(port: int, token: str, *, ready_within: float = 30.0) -> str:
    """The websocket URL of the browser's first page, on 127.0.0.1:port; waits while
    chromium is still starting."""
    deadline = time.monotonic() + ready_within
    problem = "no answer"
    timeout = aiohttp.ClientTimeout(total=5)
    headers = {TOKEN_HEADER: token}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                    if response.status == 403:
                        raise CdpRefused("the browser refused this host's access token")
                    targets = await response.json(content_type=None)
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    path = urlsplit(pages[0]["webSocketDebuggerUrl"]).path
                    return f"ws://127.0.0.1:{port}{path}"
                async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as response:
                    await response.read()
                problem = "no page"
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                problem = type(exc).__name__
            await asyncio.sleep(0.2)
    raise CdpError(f"the browser's DevTools did not answer within {ready_within:g}s ({problem})")


class CdpConnection:
    """One page's DevTools session. Events go to listeners: callables that get each event
    and may answer True to be removed."""

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Callable[[Event], bool | None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def open(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def connect(self, url: str, token: str) -> None:
        self._http = aiohttp.ClientSession(headers={TOKEN_HEADER: token})
        try:
            self._ws = await self._http.ws_connect(url, max_msg_size=MAX_MESSAGE, heartbeat=None)
        except (aiohttp.ClientError, OSError) as exc:
            await self.close()
            raise CdpError(f"cannot reach the browser: {type(exc).__name__}") from None
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                future = self._pending.pop(data.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(data)
                elif "method" in data:
                    self._dispatch(data)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CdpError("the browser closed the connection"))
            self._pending.clear()

    def _dispatch(self, event: Event) -> None:
        for listener in list(self._listeners):
            if listener(event):
                with contextlib.suppress(ValueError):
                    self._listeners.remove(listener)

    def listen(self, listener: Callable[[Event], bool | None]) -> None:
        self._listeners.append(listener)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> dict[str, Any]:
        if not self.open:
            raise CdpError("the browser connection is closed")
        assert self._ws is not None
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params or {}}))
        try:
            answer = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._pending.pop(ident, None)
            raise CdpError(f"the browser did not answer {method} within {timeout:g}s") from None
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error'].get('message', 'failed')}")
        return answer.get("result", {})

    def send_later(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send without waiting for the answer (from an event listener, which cannot
        await); a failure is ignored."""

        async def send() -> None:
            with contextlib.suppress(CdpError, aiohttp.ClientError, ConnectionError):
                await self.send(method, params)

        task = asyncio.get_running_loop().create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def expect(self, method: str, match: Callable[[Event], bool] | None = None) -> Waiting:
        """A future of the next event `method` (that `match` accepts), listening from now
        on: set it up before the command that causes the event."""
        future: Waiting = asyncio.get_running_loop().create_future()

        def listener(event: Event) -> bool:
            if future.done():
                return True
            if event.get("method") == method and (match is None or match(event)):
                future.set_result(event)
                return True
            return False

        self.listen(listener)
        return future

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader
        if self._http is not None:
            await self._http.close()
        self._ws = self._http = self._reader = None


async def settle(waiting: Waiting, timeout: float) -> Event | None:
    """The expected event, or None when it did not come within `timeout` seconds."""
    try:
        return await asyncio.wait_for(asyncio.shield(waiting), timeout)
    except TimeoutError:
        waiting.cancel()  # its listener goes at the next event
        return None
