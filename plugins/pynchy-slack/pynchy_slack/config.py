"""Where the Slack channel's settings come from, and what `pynchy doctor` says about them.

Read on the host only, never passed to a container. Each setting comes from its
environment variable if set, else from `[plugin.slack]` in config.toml:

    SLACK_BOT_TOKEN   bot_token       xoxb-...  Bot User OAuth Token (Web API)
    SLACK_APP_TOKEN   app_token       xapp-...  app-level token, scope connections:write
    SLACK_API_URL     base_url        Web API base URL (default https://slack.com/api/)
                      ping_interval   seconds between Socket Mode pings (default 5)
                      typing_emoji    reaction shown while an agent runs
                                      (default hourglass_flowing_sand)
                      send_timeout    seconds a reply keeps being retried (default 300)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pynchy_cli import ConfigError

NAME = "slack"
ENV = {"bot_token": "SLACK_BOT_TOKEN", "app_token": "SLACK_APP_TOKEN", "base_url": "SLACK_API_URL"}
KNOWN = {*ENV, "ping_interval", "typing_emoji", "send_timeout", "enabled"}
DEFAULT_BASE_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    app_token: str
    base_url: str = DEFAULT_BASE_URL
    ping_interval: float = 5.0
    typing_emoji: str = "hourglass_flowing_sand"
    send_timeout: float = 300.0
    assistant_name: str = "Pynchy"

    def __repr__(self) -> str:  # never print the tokens
        return f"SlackConfig(base_url={self.base_url!r}, ping_interval={self.ping_interval})"


def _table(settings: Any) -> dict[str, Any]:
    plugin = getattr(settings, "plugin", None) or {}
    return dict(plugin.get(NAME) or {})


def _value(table: dict[str, Any], key: str) -> str | None:
    env = ENV.get(key)
    raw = os.environ.get(env) if env else None
    if raw is None or not raw.strip():
        raw = table.get(key)
    return str(raw).strip() if raw is not None and str(raw).strip() else None


def _number(table: dict[str, Any], key: str, default: float) -> tuple[float, str | None]:
    raw = table.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return default, f"[plugin.slack] {key} = {raw!r} is not a number"
    if value <= 0:
        return default, f"[plugin.slack] {key} must be positive"
    return value, None


def _check(settings: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    table = _table(settings)
    problems: list[tuple[str, str]] = []
    bot, app = _value(table, "bot_token"), _value(table, "app_token")
    if not bot:
        problems.append(
            (
                "slack: SLACK_BOT_TOKEN is not set",
                "Set SLACK_BOT_TOKEN=xoxb-... (the app's Bot User OAuth Token)"
                " or bot_token in [plugin.slack] of config.toml",
            )
        )
    elif not bot.startswith("xoxb-"):
        problems.append(
            (
                "slack: the bot token is not a bot token (xoxb-...)",
                "Use the Bot User OAuth Token from the app's OAuth & Permissions page"
                " in SLACK_BOT_TOKEN",
            )
        )
    if not app:
        problems.append(
            (
                "slack: SLACK_APP_TOKEN is not set",
                "Set SLACK_APP_TOKEN=xapp-... (an app-level token with connections:write,"
                " Socket Mode on) or app_token in [plugin.slack] of config.toml",
            )
        )
    elif not app.startswith("xapp-"):
        problems.append(
            (
                "slack: the app token is not an app-level token (xapp-...)",
                "Create one under Basic Information > App-Level Tokens (scope"
                " connections:write) and put it in SLACK_APP_TOKEN",
            )
        )
    base_url = _value(table, "base_url") or DEFAULT_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        problems.append(
            (
                f"slack: base_url {base_url!r} is not an http(s) URL",
                "Unset SLACK_API_URL or base_url to use https://slack.com/api/",
            )
        )
    ping, bad_ping = _number(table, "ping_interval", 5.0)
    timeout, bad_timeout = _number(table, "send_timeout", 300.0)
    for bad in (bad_ping, bad_timeout):
        if bad:
            problems.append((f"slack: {bad}", "Fix it in config.toml or remove it"))
    unknown = sorted(set(table) - KNOWN)
    if unknown:
        problems.append(
            (
                f"slack: unknown setting [plugin.slack] {', '.join(unknown)}",
                f"Known settings: {', '.join(sorted(KNOWN))}",
            )
        )
    values = {
        "bot_token": bot,
        "app_token": app,
        "base_url": base_url.rstrip("/") + "/",
        "ping_interval": ping,
        "typing_emoji": str(table.get("typing_emoji") or "hourglass_flowing_sand").strip(":"),
        "send_timeout": timeout,
        "assistant_name": getattr(settings, "assistant_name", "Pynchy"),
    }
    return values, problems


def load_config(settings: Any) -> SlackConfig:
    """The channel's settings; raises ConfigError (one line and a hint) if unusable.
    An unknown key is only reported by doctor."""
    values, problems = _check(settings)
    fatal = [p for p in problems if "unknown setting" not in p[0]]
    if fatal:
        what, fix = fatal[0]
        raise ConfigError(what, fix)
    return SlackConfig(**values)


def doctor_problems(settings: Any) -> list[tuple[str, str]]:
    """(what, fix) for everything wrong with the Slack settings; empty when usable.
    Checks only what can be known offline."""
    return _check(settings)[1]
