"""Helpers for the plugin's tests: a stand-in for the service side, groups, bounded polling."""

from __future__ import annotations

import asyncio
from typing import Any

from pynchy_cli.core.groups import Group


def make_group(name: str, chat: str, *, admin: bool = False, trigger: str | None = None) -> Group:
    return Group(
        id=abs(hash(name)) % 10_000,
        name=name,
        folder=f"/tmp/{name}",
        admin=admin,
        trigger=trigger,
        model=None,
        account=None,
        network=False,
        channel="slack",
        chat_id=chat,
        session_id=None,
        last_answered_id=0,
        created_at="2026-01-01T00:00:00+00:00",
    )


class FakeHost:
    """The service side a channel talks to: stores messages idempotently by platform id."""

    def __init__(self, *groups: Group):
        self.groups = {g.chat_id: g for g in groups}
        self.messages: list[dict[str, Any]] = []

    def group_for_chat(self, channel: str, chat_id: str) -> Group | None:
        return self.groups.get(chat_id) if channel == "slack" else None

    def last_platform_id(self, channel: str, chat_id: str) -> str | None:
        group = self.group_for_chat(channel, chat_id)
        rows = [m for m in self.messages if group and m["group"] == group.name]
        return rows[-1]["platform_id"] if rows else None

    async def receive(self, group, sender, content, *, channel, platform_id=None):
        for m in self.messages:
            if m["platform_id"] == platform_id and m["channel"] == channel:
                return m, False
        row = {
            "id": len(self.messages) + 1,
            "group": group.name,
            "sender": sender,
            "content": content,
            "channel": channel,
            "platform_id": platform_id,
        }
        self.messages.append(row)
        return row, True

    def contents(self, group: str) -> list[str]:
        return [m["content"] for m in self.messages if m["group"] == group]


async def until(predicate, what: str, tries: int = 600) -> Any:
    """Poll (bounded) until predicate() is truthy."""
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.025)
    raise AssertionError(f"gave up waiting for {what}")
