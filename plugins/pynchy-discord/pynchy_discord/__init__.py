"""pynchy-discord: the Discord channel for pynchy, as a plugin (entry point `discord` in the
`pynchy` group: pynchy_discord.plugin). See README.md for setup."""

from __future__ import annotations

from pynchy_discord.config import doctor_problems

__version__ = "0.1.0"
__all__ = ["__version__", "doctor_problems"]
