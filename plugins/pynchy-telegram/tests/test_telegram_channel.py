"""The channel through python-telegram-bot against the local Bot API server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from fake_telegram import FakeTelegram
from pynchy_telegram.channel import TelegramChannel
from pynchy_telegram.config import TelegramConfig
from pynchy_telegram.format import Chunk
from telegram_helpers import DM_CHAT, FAMILY_CHAT, group, running

from pynchy_cli import testing

BOT = "@pynchy_test_bot"


def test_messages_from_mapped_chats_reach_pynchy(
    fake: FakeTelegram, config, host: testing.FakeChannelHost
) -> None:
    async def scenario() -> None:
        async with running(config, host):
            fake.post(FAMILY_CHAT, "dinner at 7?")
            fake.post(FAMILY_CHAT, f"{BOT} what did I say?")
            fake.post(DM_CHAT, "hello")
            fake.post(DM_CHAT, "approve 12")
            await testing.eventually(lambda: len(host.messages) == 4, "four messages")

    asyncio.run(scenario())
    assert host.contents("family") == ["dinner at 7?", "@Pynchy what did I say?"]
    assert host.contents("ann") == ["@bob hello", "@bob approve 12"]  # a DM is addressed
    first = host.messages[0]
    assert first["sender"] == "Ann" and first["channel"] == "telegram"
    assert first["platform_id"] == f"{FAMILY_CHAT}:1"


def test_unmapped_chats_are_ignored_and_logged_once(
    fake: FakeTelegram, config, host: testing.FakeChannelHost, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with running(config, host):
            fake.post(-1002, "anyone?")
            fake.post(-1002, "hello?")
            fake.post(FAMILY_CHAT, "after")
            await testing.eventually(lambda: host.messages, "the mapped chat's message")

    with caplog.at_level(logging.INFO, logger="pynchy.telegram"):
        asyncio.run(scenario())
    assert [m["content"] for m in host.messages] == ["after"]
    hints = [r.getMessage() for r in caplog.records if "not mapped" in r.getMessage()]
    assert len(hints) == 1
    assert "pynchy groups add NAME --channel telegram --chat -1002" in hints[0]
    assert fake.token not in caplog.text


def test_replies_are_html_split_and_never_posted_twice(
    fake: FakeTelegram, config, host: testing.FakeChannelHost, family
) -> None:
    long = "**Report**\n\n" + " ".join(f"word{i}" for i in range(2000))

    async def scenario() -> None:
        async with running(config, host) as channel:
            await channel.send(family, long, key="run1:1", kind="assistant")
            await channel.send(family, long, key="run1:1", kind="assistant")  # a retry
            await channel.send(family, "Started a new session.", key="host:5", kind="host")
        # pynchy restarted: a resend of the same key finds the ledger on disk
        async with running(config, host) as again:
            await again.send(family, long, key="run1:1", kind="assistant")
            await again.send(family, "same text, no key", key="", kind="assistant")
            await again.send(family, "same text, no key", key="", kind="assistant")

    asyncio.run(scenario())
    sent = fake.sent_to(FAMILY_CHAT)
    parts = [s for s in sent if "word" in s.text]
    assert len(parts) >= 3 and all(len(s.text) <= 4096 for s in parts)
    assert parts[0].raw.startswith("<b>Report</b>") and parts[0].parse_mode == "HTML"
    assert " ".join(s.text for s in parts).split()[1:] == [f"word{i}" for i in range(2000)]
    notices = [s for s in sent if s.text.startswith("pynchy: ")]
    assert [n.raw for n in notices] == ["<i>pynchy: Started a new session.</i>"]
    assert [s.text for s in sent].count("same text, no key") == 2


def test_a_dropped_send_is_retried_and_posted_once(fake: FakeTelegram, config, host, family):
    async def scenario() -> None:
        async with running(config, host) as channel:
            fake.drop("sendMessage", times=2)  # the connection is cut before Telegram acts
            await channel.send(family, "hello there", key="run2:1", kind="assistant")

    asyncio.run(scenario())
    assert len(fake.called("sendMessage")) == 3
    assert [s.text for s in fake.sent_to(FAMILY_CHAT)] == ["hello there"]


def test_refused_html_falls_back_to_plain_text(fake: FakeTelegram, config, host) -> None:
    async def scenario() -> None:
        async with running(config, host) as channel:
            await channel._post(str(FAMILY_CHAT), Chunk("<b>broken", "**broken"))

    asyncio.run(scenario())
    [sent] = fake.sent_to(FAMILY_CHAT)
    assert sent.text == "**broken" and sent.parse_mode is None


def test_typing_while_an_agent_runs(
    fake: FakeTelegram, config, host: testing.FakeChannelHost, family
) -> None:
    async def scenario() -> None:
        async with running(config, host) as channel:
            await channel.typing(family, True)
            await testing.eventually(lambda: fake.actions, "a chat action")
            await channel.typing(family, False)
            assert not channel._typing

    asyncio.run(scenario())
    assert fake.actions[0] == (FAMILY_CHAT, "typing")


def test_outage_loses_and_doubles_nothing(
    fake: FakeTelegram, config, host: testing.FakeChannelHost
) -> None:
    async def scenario() -> None:
        async with running(config, host) as channel:
            fake.post(FAMILY_CHAT, "before")
            await testing.eventually(lambda: len(host.messages) == 1, "the first message")
            fake.go_down()  # cuts the long poll in flight, refuses reconnects
            fake.post(FAMILY_CHAT, "during 1")
            fake.post(FAMILY_CHAT, "during 2")
            await testing.eventually(lambda: not channel.connected.is_set(), "the loss noticed")
            fake.come_up()
            await testing.eventually(lambda: len(host.messages) == 3, "the missed messages")
            fake.post(FAMILY_CHAT, "after")
            await testing.eventually(lambda: len(host.messages) == 4, "the next message")

    asyncio.run(scenario())
    assert host.contents("family") == ["before", "during 1", "during 2", "after"]
    assert fake.pending() == []  # all confirmed when the channel stopped


def test_unconfirmed_updates_after_a_crash_are_not_stored_twice(
    fake: FakeTelegram, config: TelegramConfig, host: testing.FakeChannelHost
) -> None:
    class Crashing(testing.FakeChannelHost):
        """Stores (committed), then pynchy dies before the channel polls again."""

        def __init__(self) -> None:
            self.groups, self.messages = host.groups, host.messages  # the same storage

        async def receive(self, group, sender, content, **kw):
            result = await super().receive(group, sender, content, **kw)
            if content == "two":
                await asyncio.Event().wait()
            return result

    async def scenario() -> None:
        crashed = TelegramChannel(config)
        await crashed.start(Crashing())
        await testing.eventually(lambda: crashed.connected.is_set(), "connected")
        fake.post(FAMILY_CHAT, "one")
        fake.post(FAMILY_CHAT, "two")
        await testing.eventually(lambda: len(host.messages) == 2, "both stored")
        crashed._poller.cancel()
        await asyncio.gather(crashed._poller, return_exceptions=True)
        assert len(fake.pending()) == 2  # stored, never confirmed
        async with running(config, host):
            fake.post(FAMILY_CHAT, "three")
            await testing.eventually(lambda: len(host.messages) == 3, "the new one")

    asyncio.run(scenario())
    assert host.contents("family") == ["one", "two", "three"]


def test_a_refused_token_is_reported_without_the_token(
    fake: FakeTelegram,
    config: TelegramConfig,
    host: testing.FakeChannelHost,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = replace(config, token="987654321:AAWrongWrongWrongWrongWrong")

    async def scenario() -> None:
        channel = TelegramChannel(bad)
        await channel.start(host)
        await testing.eventually(lambda: channel._poller.done(), "the refusal")
        await channel.stop()

    with caplog.at_level(logging.INFO, logger="pynchy.telegram"):
        asyncio.run(scenario())
    assert "refused the bot token" in caplog.text and "TELEGRAM_BOT_TOKEN" in caplog.text
    assert bad.token not in caplog.text


def test_group_without_chat_is_skipped(config, host: testing.FakeChannelHost) -> None:
    async def scenario() -> None:
        async with running(config, host) as channel:
            await channel.send(group("lost", None), "hi", key="k", kind="assistant")

    asyncio.run(scenario())
