"""pynchy-telegram: Telegram as a pynchy channel (Bot API, long polling).

Registered through the `pynchy` entry point group as `telegram`. The bot token is read on
the host from TELEGRAM_BOT_TOKEN or `[plugin.telegram] token` (see config.py) and never
reaches a container. Map a chat to a group with
`pynchy groups add NAME --channel telegram --chat CHAT_ID`.
"""

from __future__ import annotations

from typing import Any

try:  # pynchy's public API for plugins
    from pynchy_cli import ConfigError, hookimpl
except ImportError:  # pragma: no cover - a pynchy from before those exports
    from pynchy_cli.core.errors import ConfigError
    from pynchy_cli.core.plugins.hookspecs import hookimpl

from pynchy_telegram import config

__version__ = "0.1.0"


def make_channel(settings: Any) -> Any:
    """The channel factory: ConfigError (one line and a hint) when it cannot work."""
    problems = config.problems(settings)
    if problems:
        what, fix = problems[0]
        raise ConfigError(what, fix)
    try:
        from pynchy_telegram.channel import TelegramChannel
    except ImportError as exc:
        raise ConfigError(
            f"telegram: python-telegram-bot is not installed ({exc.name})",
            "Reinstall the plugin: pip install pynchy-telegram",
        ) from exc
    return TelegramChannel.from_settings(settings)


def doctor_problems(settings: Any) -> list[tuple[str, str]]:
    """For `pynchy doctor`: what keeps the Telegram channel from starting, as (what, fix).
    Offline: checks the configuration, not the network."""
    found = config.problems(settings)
    try:
        import telegram  # noqa: F401
    except ImportError:
        found.append(
            (
                "telegram: python-telegram-bot is not installed",
                "Reinstall the plugin: pip install pynchy-telegram",
            )
        )
    return found


make_channel.doctor_problems = doctor_problems  # type: ignore[attr-defined]  # pynchy doctor


@hookimpl
def pynchy_channels(register: Any) -> None:
    register(config.NAME, make_channel)
