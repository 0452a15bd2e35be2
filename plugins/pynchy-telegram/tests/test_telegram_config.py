"""Credentials on the host: a clear error without them, never shown in full."""

from __future__ import annotations

import pynchy_telegram
import pytest
from pynchy_telegram.channel import TelegramChannel
from pynchy_telegram.config import load

from pynchy_cli import ConfigError, Settings, testing

TOKEN = "123456789:AAHfake-Token_for-tests0123456789"


def test_without_a_token_the_factory_says_what_to_set() -> None:
    with pytest.raises(ConfigError) as err:
        pynchy_telegram.make_channel(Settings())
    assert err.value.message == "telegram: no bot token"
    assert "TELEGRAM_BOT_TOKEN" in err.value.hint
    assert "\n" not in err.value.line()
    assert pynchy_telegram.doctor_problems(Settings())[0][0] == "telegram: no bot token"
    assert TelegramChannel.doctor_problems(Settings()) == pynchy_telegram.doctor_problems(
        Settings()
    )


def test_token_from_environment_or_config(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(plugin={"telegram": {"token": TOKEN, "poll_timeout": 5}})
    assert load(settings).token == TOKEN
    assert load(settings).poll_timeout == 5
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:fromenv")
    assert load(settings).token == "42:fromenv"  # the environment wins, as in pynchy
    assert TOKEN not in repr(load(settings)) and "fromenv" not in repr(load(settings))
    assert pynchy_telegram.doctor_problems(settings) == []


def test_config_show_masks_the_token() -> None:
    shown = testing.masked(Settings(plugin={"telegram": {"token": TOKEN}}))
    assert shown["plugin"]["telegram"]["token"] == "**** (set)"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"token": "not a token"}, "malformed"),
        ({"token": TOKEN, "poll_timeout": -1}, "poll_timeout must be a positive number"),
        ({"token": TOKEN, "api_url": "api.telegram.org"}, "is not an http(s) URL"),
        ({"token": TOKEN, "tokn": "x"}, "unknown setting tokn"),
    ],
)
def test_bad_settings_are_one_line_each(table: dict, problem: str) -> None:
    settings = Settings(plugin={"telegram": table})
    [(what, fix)] = pynchy_telegram.doctor_problems(settings)
    assert problem in what and fix
    with pytest.raises(ConfigError, match="telegram: "):
        pynchy_telegram.make_channel(settings)


def test_factory_builds_the_channel_with_the_assistant_name(tmp_path) -> None:
    settings = Settings(
        assistant_name="Robo",
        plugin={"telegram": {"token": TOKEN, "api_url": "http://127.0.0.1:9"}},
    )
    channel = pynchy_telegram.make_channel(settings)
    try:
        assert channel.name == "telegram" and channel.assistant_name == "Robo"
        assert channel.bot.base_url == f"http://127.0.0.1:9/bot{TOKEN}"
        assert channel.ledger.path.is_relative_to(tmp_path)  # under PYNCHY_HOME's data
    finally:
        channel.ledger.close()
