"""Fixtures: the local Bot API server, a channel pointed at it, and a host that stores
messages idempotently by platform id the way pynchy's service does."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import FakeTelegram
from pynchy_telegram.channel import TelegramChannel
from pynchy_telegram.config import TelegramConfig

from pynchy_cli.core.groups import Group

FAMILY_CHAT = -1001
DM_CHAT = 4242


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the user's pynchy data or a real bot token."""
    monkeypatch.setenv("PYNCHY_HOME", str(tmp_path / "pynchy-home"))
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "PYNCHY_")) and name != "PYNCHY_HOME":
            monkeypatch.delenv(name, raising=False)


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


@pytest.fixture
def fake():
    server = FakeTelegram()
    server.add_chat(FAMILY_CHAT, "supergroup", "Family")
    server.add_chat(DM_CHAT, "private", "Ann")
    server.add_chat(-1002, "group", "Strangers")
    with server:
        yield server


@pytest.fixture
def config(fake: FakeTelegram, tmp_path: Path) -> TelegramConfig:
    return TelegramConfig(
        token=fake.token,
        api_url=fake.api_url,
        poll_timeout=1,
        reconnect_max_delay=0.2,
        state_dir=tmp_path / "state",
    )


@pytest.fixture
def family() -> Group:
    return group("family", FAMILY_CHAT)


@pytest.fixture
def host(family: Group) -> Host:
    return Host(family, group("ann", DM_CHAT, trigger="@bob"))


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
