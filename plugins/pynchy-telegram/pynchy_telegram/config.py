"""The Telegram channel's settings, read on the host only.

Credentials: the bot token comes from the environment variable TELEGRAM_BOT_TOKEN, else from
`token` in `[plugin.telegram]` of config.toml (environment wins, as everywhere in pynchy).
It is used by `serve` on the host and never passed to a container.

    [plugin.telegram]
    token = "123456:ABC..."           # or TELEGRAM_BOT_TOKEN
    api_url = "https://api.telegram.org"   # or TELEGRAM_API_URL: a local Bot API server
    poll_timeout = 30                 # seconds one getUpdates long poll waits
    reconnect_max_delay = 30          # seconds, the longest pause between reconnect attempts
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynchy_cli import ConfigError, channel_state_dir, resolve_paths

NAME = "telegram"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
API_URL_ENV = "TELEGRAM_API_URL"
DEFAULT_API_URL = "https://api.telegram.org"
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_KNOWN = {"enabled", "token", "api_url", "poll_timeout", "reconnect_max_delay"}


@dataclass(frozen=True)
class TelegramConfig:
    token: str
    api_url: str
    poll_timeout: int
    reconnect_max_delay: float
    state_dir: Path

    def __repr__(self) -> str:  # never show the token
        return f"TelegramConfig(api_url={self.api_url!r}, poll_timeout={self.poll_timeout})"


def _table(settings: Any) -> dict[str, Any]:
    tables = getattr(settings, "plugin", None) or {}
    return dict(tables.get(NAME) or {})


def problems(settings: Any, environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """What is wrong with the Telegram settings, each as (what, fix); empty when usable."""
    env = os.environ if environ is None else environ
    table = _table(settings)
    found: list[tuple[str, str]] = []
    token = env.get(TOKEN_ENV) or table.get("token")
    if not token:
        found.append(
            (
                "telegram: no bot token",
                f"Set {TOKEN_ENV} (from @BotFather) or token in [plugin.{NAME}] of config.toml",
            )
        )
    elif not isinstance(token, str) or not _TOKEN.match(token.strip()):
        found.append(
            (
                "telegram: the bot token is malformed (expected DIGITS:LETTERS)",
                f"Copy the token from @BotFather into {TOKEN_ENV} or [plugin.{NAME}] token",
            )
        )
    url = env.get(API_URL_ENV) or table.get("api_url") or DEFAULT_API_URL
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        found.append(
            (
                f"telegram: api_url {url!r} is not an http(s) URL",
                f"Set [plugin.{NAME}] api_url (or {API_URL_ENV}) to e.g. {DEFAULT_API_URL}",
            )
        )
    for key, low in (("poll_timeout", 0), ("reconnect_max_delay", 0)):
        value = table.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= low
        ):
            found.append(
                (
                    f"telegram: {key} must be a positive number, not {value!r}",
                    f"Fix [plugin.{NAME}] {key} in config.toml",
                )
            )
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        found.append(
            (
                f"telegram: unknown setting {', '.join(unknown)} in [plugin.{NAME}]",
                f"Remove it; known settings: {', '.join(sorted(_KNOWN))}",
            )
        )
    return found


def load(settings: Any, environ: Mapping[str, str] | None = None) -> TelegramConfig:
    """The channel's configuration, or ConfigError (one line and a hint) when unusable."""
    found = problems(settings, environ)
    if found:
        what, fix = found[0]
        raise ConfigError(what, fix)
    env = os.environ if environ is None else environ
    table = _table(settings)
    return TelegramConfig(
        token=(env.get(TOKEN_ENV) or table["token"]).strip(),
        api_url=(env.get(API_URL_ENV) or table.get("api_url") or DEFAULT_API_URL).rstrip("/"),
        poll_timeout=int(table.get("poll_timeout", 30)),
        reconnect_max_delay=float(table.get("reconnect_max_delay", 30)),
        state_dir=channel_state_dir(NAME, resolve_paths(dict(env)).data_dir),
    )
