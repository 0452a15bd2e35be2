"""A client of the local API (used by `pynchy chat`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from pynchy_cli.core.errors import NotFoundError, UnavailableError, UsageError
from pynchy_cli.core.paths import Paths

START_HINT = "Start it with: pynchy serve"
# No byte on /events for this long (serve writes a keep-alive every 15 s): the connection
# is dead even if no one closed it (a suspended laptop, a dropped network).
EVENTS_SILENCE_SECONDS = 45


class ApiClient:
    def __init__(self, base_url: str, token: str, unix_socket: str | None = None):
        connector = aiohttp.UnixConnector(path=unix_socket) if unix_socket else None
        self.base = "http://localhost" if unix_socket else base_url.rstrip("/")
        self.session = aiohttp.ClientSession(
            connector=connector,
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
        )
        self.where = f"unix:{unix_socket}" if unix_socket else base_url

    @classmethod
    def for_paths(cls, paths: Paths, base_url: str, unix_socket: str | None = None) -> ApiClient:
        try:
            token = paths.api_token_file.read_text().strip()
        except FileNotFoundError:
            raise UnavailableError(
                f"pynchy serve has not run here (no API token at {paths.api_token_file})",
                START_HINT,
            ) from None
        return cls(base_url, token, unix_socket)

    async def close(self) -> None:
        await self.session.close()

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.session.request(method, self.base + path, **kwargs) as resp:
                return await self._answer(resp)
        except aiohttp.ClientConnectionError:
            raise UnavailableError(
                f"cannot reach pynchy serve at {self.where}", START_HINT
            ) from None

    async def _answer(self, resp: aiohttp.ClientResponse) -> dict[str, Any]:
        """The JSON object serve answered, or its error as one PynchyError."""
        try:
            data = await resp.json(content_type=None)
        except ValueError:  # another program on the port, or a proxy
            data = None
        if resp.status == 401:
            raise UnavailableError("the API refused our token", "Restart pynchy serve")
        if not isinstance(data, dict):
            raise UnavailableError(
                f"{self.where} answered HTTP {resp.status}, not as pynchy serve does",
                "Is pynchy serve listening there? Pick its address with --port",
            )
        if resp.status == 404:
            raise NotFoundError(str(data.get("error", "not found")).rstrip("."))
        if resp.status >= 400:
            raise UsageError(str(data.get("error", f"HTTP {resp.status}")).rstrip("."))
        return data

    async def status(self) -> dict[str, Any]:
        return await self._json("GET", "/status")

    async def send(
        self, group: str, text: str, sender: str = "you", message_id: str | None = None
    ) -> dict[str, Any]:
        """Post a message. With `message_id` a retry of the same message is stored once."""
        body = {"text": text, "sender": sender}
        if message_id is not None:
            body["id"] = message_id
        return await self._json("POST", f"/groups/{group}/messages", json=body)

    async def messages(self, group: str, after: int = 0) -> dict[str, Any]:
        return await self._json("GET", f"/groups/{group}/messages", params={"after": after})

    async def events(
        self, group: str | None = None, on_connect: Callable[[], None] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        params = {"group": group} if group else {}
        try:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=5, sock_read=EVENTS_SILENCE_SECONDS
            )
            async with self.session.get(
                self.base + "/events", params=params, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    await self._answer(resp)  # raises its error
                if on_connect:
                    on_connect()
                async for raw in resp.content:
                    line = raw.decode().strip()
                    if line.startswith("data: "):
                        yield json.loads(line[6:])
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError):
            raise UnavailableError(
                f"cannot reach pynchy serve at {self.where}", START_HINT
            ) from None
