"""Fixtures: the local Bot API server and a channel configuration pointed at it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

# Run from anywhere (also in one session with other plugins' tests): the plugin's source is
# used when the plugin is not installed.
if importlib.util.find_spec("pynchy_telegram") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fake_telegram import FakeTelegram
from pynchy_telegram.config import TelegramConfig
from telegram_helpers import DM_CHAT, FAMILY_CHAT, Host, group

from pynchy_cli.core.groups import Group


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the user's pynchy data or a real bot token."""
    monkeypatch.setenv("PYNCHY_HOME", str(tmp_path / "pynchy-home"))
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "PYNCHY_")) and name != "PYNCHY_HOME":
            monkeypatch.delenv(name, raising=False)


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
