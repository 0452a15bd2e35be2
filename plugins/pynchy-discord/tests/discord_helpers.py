"""Helpers for the Discord plugin's tests: settings, groups, a host that stores messages the
way pynchy's service does (idempotent by channel and platform id), bounded polling."""

from __future__ import annotations

import asyncio
from typing import Any

from fake_discord import FakeDiscord
from pynchy_cli.core.config import Settings
from pynchy_cli.core.groups import Group


def settings_for(fake: FakeDiscord, **table: Any) -> Settings:
    return Settings(plugin={"discord": {"token": fake.token, "api_base": fake.api_base, **table}})


def make_group(gid: int, name: str, chat_id: str, *, admin: bool = False) -> Group:
    return Group(
        id=gid,
        name=name,
        folder=f"/tmp/{name}",
        admin=admin,
        trigger=None,
        model=None,
        account=None,
        network=False,
        channel="discord",
        chat_id=chat_id,
        session_id=None,
        last_answered_id=0,
        created_at="2026-01-01T00:00:00+00:00",
    )


class FakeHost:
    """The ChannelHost side: group_for_chat, last_platform_id and receive, with the
    service's store-once-by-platform-id rule."""

    def __init__(self, groups: list[Group]):
        self.groups = {g.chat_id: g for g in groups}
        self.messages: list[dict[str, Any]] = []
        self.duplicates = 0

    def group_for_chat(self, channel: str, chat_id: str) -> Group | None:
        return self.groups.get(str(chat_id)) if channel == "discord" else None

    def last_platform_id(self, channel: str, chat_id: str) -> str | None:
        ids = [m["platform_id"] for m in self.messages if m["chat_id"] == str(chat_id)]
        return max(ids, key=int) if ids else None

    async def receive(self, group, sender, content, *, channel, platform_id=None):
        if any(m["platform_id"] == platform_id for m in self.messages):
            self.duplicates += 1
            return self.messages[0], False
        message = {
            "group": group.name,
            "chat_id": group.chat_id,
            "sender": sender,
            "content": content,
            "channel": channel,
            "platform_id": platform_id,
        }
        self.messages.append(message)
        return message, True

    def contents(self) -> list[str]:
        return [m["content"] for m in self.messages]


async def eventually(predicate, what: str, tries: int = 600, pause: float = 0.05) -> Any:
    """Poll until predicate() is truthy (bounded): for readiness, never as an assertion of time."""
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(pause)
    raise AssertionError(f"gave up waiting for {what}")


async def in_thread(fn, *args: Any, **kwargs: Any) -> Any:
    """Call a fake-server control from async code without blocking the client's loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
