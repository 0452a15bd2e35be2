"""The plugin object pynchy loads through the `pynchy` entry point group: the channel
factory and the offline check `pynchy doctor` shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynchy_cli import Problem, hookimpl
from pynchy_slack.config import NAME, doctor_problems

if TYPE_CHECKING:
    from pynchy_cli import RegisterChannel, Settings
    from pynchy_slack.channel import SlackChannel

__all__ = ["doctor_problems", "pynchy_channels", "pynchy_doctor", "slack_channel"]


def slack_channel(settings: Settings) -> SlackChannel:
    """factory(settings) -> SlackChannel; slack_sdk is imported only when it is used: the
    settings are checked first (ConfigError without tokens), so an unused channel costs
    serve nothing."""
    from pynchy_slack.config import load_config

    load_config(settings)
    from pynchy_slack.channel import SlackChannel

    return SlackChannel(settings)


@hookimpl
def pynchy_channels(register: RegisterChannel) -> None:
    register(NAME, slack_channel)


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    return [Problem(NAME, what, fix) for what, fix in doctor_problems(settings)]
