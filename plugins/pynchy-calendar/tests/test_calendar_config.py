"""Settings come from the environment or [plugin.calendar]; what is missing is one clear
line for `pynchy doctor`; the registered MCP server carries the settings in its own
environment, on the host."""

from __future__ import annotations

from pathlib import Path

import pytest
from pynchy_calendar.config import load_config, server_config
from pynchy_calendar.plugin import calendar_server, pynchy_mcp_servers

from pynchy_cli import ConfigError, McpServer, Problem, Settings, testing

TABLE = {"url": "https://dav.example.com/dav/", "username": "alice", "password": "s3cret-pw"}


def settings(**table) -> Settings:
    return testing.plugin_settings("calendar", table)


def test_settings_from_config_toml_table():
    config = load_config(settings(**TABLE, calendar="Work", timezone="Europe/Berlin"))
    assert (config.url, config.username, config.password) == (
        "https://dav.example.com/dav/",
        "alice",
        "s3cret-pw",
    )
    assert (config.calendar, config.timezone) == ("Work", "Europe/Berlin")
    assert "s3cret-pw" not in repr(config)


def test_environment_wins_over_config_toml(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CALDAV_URL", "http://127.0.0.1:5232/")
    monkeypatch.setenv("CALDAV_PASSWORD", "from-env")
    config = load_config(settings(**TABLE))
    assert (config.url, config.username, config.password) == (
        "http://127.0.0.1:5232/",
        "alice",
        "from-env",
    )


def test_missing_settings_are_one_line_with_a_hint():
    with pytest.raises(ConfigError) as err:
        load_config(settings())
    assert err.value.message == "calendar: no CalDAV URL (CALDAV_URL) is set"
    assert "CALDAV_PASSWORD" in err.value.hint and "[plugin.calendar]" in err.value.hint
    assert "\n" not in err.value.line()
    with pytest.raises(ConfigError) as err:
        load_config(settings(url=TABLE["url"], username="alice"))
    assert err.value.message == "calendar: CALDAV_PASSWORD is not set"
    with pytest.raises(ConfigError) as err:
        server_config({"CALDAV_URL": "dav.example.com", "CALDAV_USERNAME": "a"})
    assert "is not an http(s) URL" in err.value.message


def test_doctor_problems_through_the_hook():
    plugins = testing.load_plugins()
    assert "pynchy-calendar" in plugins.infos["calendar"].source
    assert plugins.infos["calendar"].kinds == ["mcp"]
    problems = plugins.doctor_problems(settings())["calendar"]
    assert problems == [
        Problem(
            "calendar",
            "calendar: no CalDAV URL (CALDAV_URL) is set",
            problems[0].fix,
            kind="mcp",
        )
    ]
    assert plugins.doctor_problems(settings(**TABLE))["calendar"] == []
    odd = settings(**TABLE, timezone="Mars/Olympus", groups="main", colour="red")
    whats = [p.what for p in plugins.doctor_problems(odd)["calendar"]]
    assert whats == [
        "calendar: unknown timezone 'Mars/Olympus'",
        "calendar: [plugin.calendar] groups is not a list of group names",
        "calendar: unknown setting [plugin.calendar] colour",
    ]
    load_config(odd)  # none of these stops the tools


def test_config_show_masks_the_password():
    shown = testing.masked(settings(**TABLE))["plugin"]["calendar"]
    assert "s3cret-pw" not in str(shown) and shown["url"] == TABLE["url"]


def test_registered_factory_makes_the_server_from_the_settings(pynchy_home: Path):
    registered: list[tuple] = []
    pynchy_mcp_servers(lambda *args: registered.append(args))
    [(name, factory)] = registered
    assert name == "calendar" and factory is calendar_server
    server = factory(settings(**TABLE, groups=["main"]))
    assert isinstance(server, McpServer)
    assert server.command[1:] == ["-m", "pynchy_calendar.server"]
    assert server.env == {
        "CALDAV_URL": "https://dav.example.com/dav/",
        "CALDAV_USERNAME": "alice",
        "CALDAV_PASSWORD": "s3cret-pw",
    }
    assert server.groups == ["main"]
    assert "s3cret-pw" not in repr(server)


def test_unconfigured_means_no_server_and_bad_groups_are_refused():
    assert calendar_server(settings()) is None
    assert calendar_server(settings(url=TABLE["url"], username="alice")) is None  # no password
    assert calendar_server(settings(), {"CALDAV_URL": TABLE["url"]}) is None
    assert calendar_server(settings(**TABLE)).groups is None  # every group
    with pytest.raises(ValueError, match="groups must be a list"):
        calendar_server(settings(**TABLE, groups="main"))  # pynchy turns it into a warning
