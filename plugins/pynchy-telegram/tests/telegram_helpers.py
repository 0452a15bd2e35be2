"""Test helpers: a host that stores messages idempotently by platform id the way pynchy's
service does, a bounded wait, and a running channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from pynchy_telegram.channel import TelegramChannel
from pynchy_telegram.config import TelegramConfig

from pynchy_cli.core.groups import Group

FAMILY_CHAT = -1001
DM_CHAT = 4242


def group(name: str, chat_id: int | None, *, admin: bool = False, trigger: str | None = None):
    return Group(
        id=abs(hash(name)) % 10_000,
        name=name,
        folder=f"/tmp/{name}",
        admin=admin,
        trigger=trigger,
        model=None,
        account=None,
        network=False,
        channel="telegram",
        chat_id=None if chat_id is None else str(chat_id),
        session_id=None,
        last_answered_id=0,
        created_at="2026-01-01T00:00:00+00:00",
    )


class Host:
    """pynchy's side of the Channel protocol, in memory."""

    def __init__(self, *groups: Group):
        self.groups = {g.chat_id: g for g in groups if g.chat_id}
        self.messages: list[dict[str, Any]] = []

    def group_for_chat(self, channel: str, chat_id: str) -> Group | None:
        return self.groups.get(chat_id) if channel == "telegram" else None

    def last_platform_id(self, channel: str, chat_id: str) -> str | None:
        group = self.group_for_chat(channel, chat_id)
        mine = [m for m in self.messages if group and m["group"] == group.name]
        return mine[-1]["platform_id"] if mine else None

    async def receive(self, group, sender, content, *, channel, platform_id=None):
        for m in self.messages:
            if platform_id is not None and m["platform_id"] == platform_id:
                return m, False
        row = {
            "group": group.name,
            "sender": sender,
            "content": content,
            "channel": channel,
            "platform_id": platform_id,
        }
        self.messages.append(row)
        return row, True

    def contents(self, name: str) -> list[str]:
        return [m["content"] for m in self.messages if m["group"] == name]


async def eventually(predicate: Callable[[], Any], what: str, tries: int = 400) -> Any:
    """Poll (bounded) until predicate() is truthy; for readiness, never as a timing check."""
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.025)
    raise AssertionError(f"gave up waiting for {what}")


@contextlib.asynccontextmanager
async def running(config: TelegramConfig, host: Host) -> AsyncIterator[TelegramChannel]:
    """A started channel, connected (its first long poll answered), stopped afterwards."""
    ch = TelegramChannel(config, "Pynchy")
    await ch.start(host)
    try:
        await eventually(lambda: ch.connected.is_set(), "the first poll")
        yield ch
    finally:
        await ch.stop()
