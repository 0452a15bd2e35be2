"""Where the Discord channel's settings come from, read on the host only.

- the bot token: the environment variable DISCORD_BOT_TOKEN, else `token` in
  `[plugin.discord]` of config.toml (masked by `pynchy config show`);
- `api_base` in `[plugin.discord]` (default https://discord.com/api/v10): the REST base, for
  a proxy or a local test server; the Gateway URL is then asked from GET {api_base}/gateway/bot;
- `ignore_bots` (default true): skip messages written by other bots.

The token never leaves the serve process: agent containers get none of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynchy_cli import ConfigError, channel_state_dir

NAME = "discord"
TOKEN_ENV = "DISCORD_BOT_TOKEN"
DEFAULT_API_BASE = "https://discord.com/api/v10"
KNOWN_KEYS = {"enabled", "token", "api_base", "ignore_bots"}


@dataclass(frozen=True)
class DiscordConfig:
    token: str
    api_base: str
    ignore_bots: bool
    state_file: Path

    def __repr__(self) -> str:  # never print the token
        return f"DiscordConfig(api_base={self.api_base!r}, ignore_bots={self.ignore_bots})"


def _table(settings: Any) -> dict[str, Any]:
    return dict((getattr(settings, "plugin", None) or {}).get(NAME) or {})


def read_config(settings: Any) -> DiscordConfig:
    """The channel's configuration, or ConfigError (one line, with a hint) if it cannot run."""
    table = _table(settings)
    token = (os.environ.get(TOKEN_ENV) or "").strip() or str(table.get("token") or "").strip()
    if not token:
        raise ConfigError(
            "the Discord channel has no bot token",
            f"Set {TOKEN_ENV} (or token in [plugin.discord] of config.toml)",
        )
    api_base = str(table.get("api_base") or DEFAULT_API_BASE).rstrip("/")
    if not api_base.startswith(("https://", "http://")):
        raise ConfigError(
            f"[plugin.discord] api_base {api_base!r} is not an http(s) URL",
            f"Remove it to use {DEFAULT_API_BASE}",
        )
    ignore_bots = table.get("ignore_bots", True)
    if not isinstance(ignore_bots, bool):
        raise ConfigError(
            "[plugin.discord] ignore_bots must be true or false", "Fix it in config.toml"
        )
    state_file = channel_state_dir(NAME) / "sent.sqlite3"
    return DiscordConfig(token, api_base, ignore_bots, state_file)


def doctor_problems(settings: Any) -> list[tuple[str, str]]:
    """What stops the Discord channel from running, as (what, fix) pairs; empty when fine.
    Offline: the token is checked for presence, not against Discord."""
    table = _table(settings)
    if table.get("enabled") is False:
        return []
    problems: list[tuple[str, str]] = []
    try:
        read_config(settings)
    except ConfigError as exc:
        problems.append((exc.message, exc.hint or ""))
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        problems.append(
            (
                f"[plugin.discord] has unknown keys: {', '.join(unknown)}",
                f"Use only {', '.join(sorted(KNOWN_KEYS))}",
            )
        )
    return problems
