"""pynchy-telegram: Telegram as a pynchy channel (Bot API, long polling).

Registered through the `pynchy` entry point group as `telegram` (pynchy_telegram.plugin).
The bot token is read on the host from TELEGRAM_BOT_TOKEN or `[plugin.telegram] token` (see
config.py) and never reaches a container. Map a chat to a group with
`pynchy groups add NAME --channel telegram --chat CHAT_ID`.
"""

from __future__ import annotations

from pynchy_telegram.plugin import doctor_problems, make_channel

__version__ = "0.1.0"
__all__ = ["__version__", "doctor_problems", "make_channel"]
