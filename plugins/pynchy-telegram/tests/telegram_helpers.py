"""The chats of the tests, their groups, and a running channel (pynchy_cli.testing does
the rest: the host, the bounded wait)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pynchy_telegram.channel import TelegramChannel
from pynchy_telegram.config import TelegramConfig

from pynchy_cli import ChannelHost, testing

FAMILY_CHAT = -1001
DM_CHAT = 4242

group = functools.partial(testing.make_group, channel="telegram")


@asynccontextmanager
async def running(config: TelegramConfig, host: ChannelHost) -> AsyncIterator[TelegramChannel]:
    """A started channel, connected (its first long poll answered), stopped afterwards."""
    channel = TelegramChannel(config, "Pynchy")
    async with testing.started(
        channel, host, ready=channel.connected.is_set, what="the first poll"
    ):
        yield channel
