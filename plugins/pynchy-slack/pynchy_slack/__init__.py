"""pynchy-slack: Slack as a pynchy channel (Socket Mode; no public URL needed).

Registered through the `pynchy` entry point group as `slack` (pynchy_slack.plugin). The
factory `slack_channel(settings)` raises ConfigError when the tokens are missing;
`doctor_problems(settings) -> list[(what, fix)]` is what `pynchy doctor` shows.
"""

from __future__ import annotations

from pynchy_slack.plugin import doctor_problems, slack_channel

__version__ = "0.1.0"
__all__ = ["__version__", "doctor_problems", "slack_channel"]
