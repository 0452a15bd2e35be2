"""Credentials come from the environment or [plugin.slack]; missing ones are one clear line."""

from __future__ import annotations

import pytest
from pynchy_slack import doctor_problems, slack_channel
from pynchy_slack.config import load_config
from slack_fake import APP_TOKEN, BOT_TOKEN

from pynchy_cli import ConfigError, Problem, Settings, testing


def settings(**table) -> Settings:
    return testing.plugin_settings("slack", table)


def test_without_tokens_the_factory_raises_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError) as err:
        slack_channel(settings())
    assert "SLACK_BOT_TOKEN" in err.value.message
    assert "\n" not in err.value.line()
    assert "SLACK_BOT_TOKEN=xoxb-" in err.value.hint


def test_app_token_missing(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    with pytest.raises(ConfigError) as err:
        slack_channel(settings())
    assert "SLACK_APP_TOKEN" in err.value.message


def test_tokens_from_config_toml_table():
    config = load_config(settings(bot_token=BOT_TOKEN, app_token=APP_TOKEN, ping_interval=2))
    assert (config.bot_token, config.app_token, config.ping_interval) == (BOT_TOKEN, APP_TOKEN, 2)
    assert config.base_url == "https://slack.com/api/"
    assert BOT_TOKEN not in repr(config)


def test_environment_wins_over_config_toml(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    config = load_config(settings(bot_token="xoxb-from-file", app_token=APP_TOKEN))
    assert config.bot_token == "xoxb-from-env"
    assert config.base_url == "http://127.0.0.1:9/api/"


def test_swapped_tokens_are_refused():
    with pytest.raises(ConfigError) as err:
        load_config(settings(bot_token=APP_TOKEN, app_token=BOT_TOKEN))
    assert "xoxb-" in err.value.message


def test_doctor_problems():
    assert [what for what, _ in doctor_problems(settings())] == [
        "slack: SLACK_BOT_TOKEN is not set",
        "slack: SLACK_APP_TOKEN is not set",
    ]
    good = settings(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    assert doctor_problems(good) == []
    odd = settings(bot_token=BOT_TOKEN, app_token=APP_TOKEN, bot_tokn="x", ping_interval=-1)
    problems = [what for what, _ in doctor_problems(odd)]
    assert any("unknown setting [plugin.slack] bot_tokn" in p for p in problems)
    assert any("ping_interval must be positive" in p for p in problems)
    assert all(fix for _, fix in doctor_problems(odd))
    load_config(settings(bot_token=BOT_TOKEN, app_token=APP_TOKEN, bot_tokn="x"))  # not fatal


def test_config_show_masks_the_tokens():
    shown = testing.masked(settings(bot_token=BOT_TOKEN, app_token=APP_TOKEN))["plugin"]["slack"]
    assert BOT_TOKEN not in str(shown) and APP_TOKEN not in str(shown)


def test_registered_through_the_entry_point():
    plugins = testing.load_plugins()
    assert "pynchy-slack" in plugins.infos["slack"].source
    factory = plugins.registry.channels["slack"]
    assert factory is slack_channel
    # pynchy doctor asks the plugin's pynchy_doctor hook, which answers doctor_problems
    expected = [Problem("slack", what, fix) for what, fix in doctor_problems(settings())]
    assert plugins.doctor_problems(settings())["slack"] == expected
