"""The plugin object pynchy loads through the `pynchy` entry point group: the channel
factory and the offline check `pynchy doctor` shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynchy_cli import Problem, hookimpl
from pynchy_discord.config import NAME, doctor_problems

if TYPE_CHECKING:
    from pynchy_cli import RegisterChannel, Settings
    from pynchy_discord.channel import DiscordChannel

__all__ = ["doctor_problems", "pynchy_channels", "pynchy_doctor"]


def _factory(settings: Settings) -> DiscordChannel:
    from pynchy_discord.config import read_config

    read_config(settings)  # ConfigError without a token, before discord.py is imported
    from pynchy_discord.channel import DiscordChannel  # discord.py is imported only when used

    return DiscordChannel.from_settings(settings)


@hookimpl
def pynchy_channels(register: RegisterChannel) -> None:
    register(NAME, _factory)


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    return [Problem(NAME, what, fix) for what, fix in doctor_problems(settings)]
