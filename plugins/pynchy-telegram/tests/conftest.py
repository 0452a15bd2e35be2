"""Fixtures: the local Bot API server and a channel configuration pointed at it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from pynchy_telegram.config import TelegramConfig
from telegram_helpers import DM_CHAT, FAMILY_CHAT, group

from pynchy_cli import Group, testing

_isolated = testing.isolation_fixture("TELEGRAM_")  # never the user's data or bot token


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
def host(family: Group) -> testing.FakeChannelHost:
    return testing.FakeChannelHost(family, group("ann", DM_CHAT, trigger="@bob"))
