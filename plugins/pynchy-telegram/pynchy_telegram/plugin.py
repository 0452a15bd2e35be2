"""The plugin object pynchy loads through the `pynchy` entry point group: the channel
factory and the offline check `pynchy doctor` shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynchy_cli import ConfigError, Problem, hookimpl
from pynchy_telegram import config

if TYPE_CHECKING:
    from pynchy_cli import RegisterChannel, Settings
    from pynchy_telegram.channel import TelegramChannel

_MISSING_LIBRARY = (
    "telegram: python-telegram-bot is not installed",
    "Reinstall the plugin: pip install pynchy-telegram",
)


def make_channel(settings: Settings) -> TelegramChannel:
    """The channel factory: ConfigError (one line and a hint) when it cannot work."""
    problems = config.problems(settings)
    if problems:
        what, fix = problems[0]
        raise ConfigError(what, fix)
    try:
        from pynchy_telegram.channel import TelegramChannel
    except ImportError as exc:
        raise ConfigError(f"{_MISSING_LIBRARY[0]} ({exc.name})", _MISSING_LIBRARY[1]) from exc
    return TelegramChannel.from_settings(settings)


def doctor_problems(settings: Settings) -> list[tuple[str, str]]:
    """What keeps the Telegram channel from starting, as (what, fix). Offline: checks the
    configuration, not the network."""
    found = config.problems(settings)
    try:
        import telegram  # noqa: F401
    except ImportError:
        found.append(_MISSING_LIBRARY)
    return found


@hookimpl
def pynchy_channels(register: RegisterChannel) -> None:
    register(config.NAME, make_channel)


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    return [Problem(config.NAME, what, fix) for what, fix in doctor_problems(settings)]
