"""The plugin object pynchy loads through the `pynchy` entry point group."""

from __future__ import annotations

from typing import Any

try:  # pynchy's public API for plugins
    from pynchy_cli import hookimpl
except ImportError:  # a pynchy without the top-level re-export yet
    from pynchy_cli.core.plugins.hookspecs import hookimpl

from pynchy_discord.config import NAME, doctor_problems

__all__ = ["pynchy_channels", "doctor_problems"]


def _factory(settings: Any) -> Any:
    from pynchy_discord.channel import DiscordChannel  # discord.py is imported only when used

    return DiscordChannel.from_settings(settings)


@hookimpl
def pynchy_channels(register: Any) -> None:
    register(NAME, _factory)
