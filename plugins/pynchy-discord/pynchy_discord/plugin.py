"""The plugin object pynchy loads through the `pynchy` entry point group."""

from __future__ import annotations

from typing import Any

from pynchy_discord._pynchy import hookimpl
from pynchy_discord.config import NAME, doctor_problems

__all__ = ["pynchy_channels", "doctor_problems"]


def _factory(settings: Any) -> Any:
    from pynchy_discord.channel import DiscordChannel  # discord.py is imported only when used

    return DiscordChannel.from_settings(settings)


# `pynchy doctor` may find the check on the entry point's module or on the registered factory.
_factory.doctor_problems = doctor_problems  # type: ignore[attr-defined]


@hookimpl
def pynchy_channels(register: Any) -> None:
    register(NAME, _factory)
