"""pynchy-slack: Slack as a pynchy channel (Socket Mode; no public URL needed).

Registered through the `pynchy` entry point group as `slack`. The factory
`slack_channel(settings)` raises ConfigError when the tokens are missing; its attribute
`doctor_problems(settings) -> list[(what, fix)]` is what `pynchy doctor` shows.
"""

from __future__ import annotations

from typing import Any

from pynchy_slack._api import hookimpl
from pynchy_slack.config import doctor_problems

__version__ = "0.1.0"
__all__ = ["doctor_problems", "pynchy_channels", "slack_channel"]


def slack_channel(settings: Any) -> Any:
    """factory(settings) -> SlackChannel; slack_sdk is imported only when it is used."""
    from pynchy_slack.channel import SlackChannel

    return SlackChannel(settings)


slack_channel.doctor_problems = doctor_problems  # type: ignore[attr-defined]


@hookimpl
def pynchy_channels(register: Any) -> None:
    register("slack", slack_channel)
