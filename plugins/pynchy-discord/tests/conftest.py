"""Fixtures: a temporary PYNCHY_HOME without the user's Discord token (for every test), and
the local Discord server as `fake`."""

from __future__ import annotations

from fake_discord import FakeDiscord

from pynchy_cli import testing

pynchy_home = testing.isolation_fixture("DISCORD_")
fake = testing.server_fixture(FakeDiscord)
