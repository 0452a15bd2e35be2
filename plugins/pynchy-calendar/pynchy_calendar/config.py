"""Where the calendar's settings come from, what its MCP server is given, and what
`pynchy doctor` says about them.

Read on the host only: the values reach the MCP server process (which pynchy runs on the
host) through its environment, never a container. Each setting comes from its environment
variable if set, else from `[plugin.calendar]` in config.toml:

    CALDAV_URL        url        the CalDAV address, e.g. https://dav.example.com/dav/
    CALDAV_USERNAME   username   the account's user name
    CALDAV_PASSWORD   password   its password (or an app password)
    CALDAV_CALENDAR   calendar   the calendar tools use when they name none (default: the first)
    CALDAV_TIMEZONE   timezone   for times given without an offset (default: the host's)
                      groups     groups whose agents see the tools (default: every group)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pynchy_cli import ConfigError, plugin_table_problems, plugin_values

NAME = "calendar"
ENV = {
    "url": "CALDAV_URL",
    "username": "CALDAV_USERNAME",
    "password": "CALDAV_PASSWORD",
    "calendar": "CALDAV_CALENDAR",
    "timezone": "CALDAV_TIMEZONE",
}
KNOWN = {*ENV, "groups", "enabled"}
HINT = (
    "Set CALDAV_URL, CALDAV_USERNAME and CALDAV_PASSWORD on the host, or url, username"
    " and password in [plugin.calendar] of config.toml"
)


@dataclass(frozen=True)
class CalendarConfig:
    url: str
    username: str | None = None
    password: str | None = None
    calendar: str | None = None
    timezone: str | None = None

    def __repr__(self) -> str:  # never print the password
        return f"CalendarConfig(url={self.url!r}, username={self.username!r})"


def check(
    table: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, str | None], list[tuple[str, str]]]:
    """The settings (environment first, then the table) and (what, fix) for each problem."""
    values = plugin_values(table, ENV, environ)
    problems: list[tuple[str, str]] = []
    url = values["url"]
    if not url:
        problems.append(("calendar: no CalDAV URL (CALDAV_URL) is set", HINT))
    elif not url.startswith(("http://", "https://")):
        problems.append(
            (
                f"calendar: url {url!r} is not an http(s) URL",
                "Give the full CalDAV address, e.g. https://dav.example.com/dav/",
            )
        )
    if url and not (values["username"] and values["password"]):
        missing = "CALDAV_PASSWORD" if values["username"] else "CALDAV_USERNAME"
        problems.append((f"calendar: {missing} is not set", HINT))
    if values["timezone"]:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                (
                    f"calendar: unknown timezone {values['timezone']!r}",
                    "Use an IANA name such as Europe/Berlin, or remove it to use the host's",
                )
            )
            values["timezone"] = None
    problems += plugin_table_problems(NAME, table, KNOWN)
    return values, problems


def server_env(values: Mapping[str, str | None]) -> dict[str, str]:
    """The MCP server's environment: the settings that are set, under their variables."""
    return {ENV[key]: value for key, value in values.items() if key in ENV and value}


def fatal(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The problems that keep the calendar from working at all (no URL or login); unknown
    keys, bad groups and a bad timezone are only reported by doctor."""
    return [p for p in problems if not p[0].startswith(_NOT_FATAL)]


_NOT_FATAL = (
    "calendar: unknown setting",
    "calendar: unknown timezone",
    "calendar: [plugin.calendar] groups",
)


def usable(values: Mapping[str, str | None], problems: list[tuple[str, str]]) -> CalendarConfig:
    """The config, or ConfigError (one line and a hint) for the first fatal problem."""
    stopping = fatal(problems)
    if stopping:
        raise ConfigError(*stopping[0])
    return CalendarConfig(**{k: v for k, v in values.items() if k in ENV})  # type: ignore[arg-type]


def load_config(settings: Any, environ: Mapping[str, str] | None = None) -> CalendarConfig:
    table = settings.plugin.get(NAME, {})
    return usable(*check(table, os.environ if environ is None else environ))


def server_config(environ: Mapping[str, str]) -> CalendarConfig:
    """The MCP server's side: its environment is all it has."""
    return usable(*check({}, environ))


def doctor_problems(settings: Any) -> list[tuple[str, str]]:
    """(what, fix) for everything wrong with the calendar settings, checked offline."""
    return check(settings.plugin.get(NAME, {}), os.environ)[1]
