"""The Slack channel with its real client library (slack_sdk: SocketModeClient and
AsyncWebClient) against the local Slack in slack_fake.py."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

import pytest
from pynchy_slack.channel import SlackChannel
from slack_fake import APP_TOKEN, BOT_TOKEN, BOT_USER

from pynchy_cli import UnavailableError, testing

make_group = functools.partial(testing.make_group, channel="slack")


def channel_for(slack, tmp_path, **extra) -> SlackChannel:
    table = {
        "bot_token": BOT_TOKEN,
        "app_token": APP_TOKEN,
        "base_url": slack.base_url,
        "ping_interval": 0.3,
        **extra,
    }
    return SlackChannel(testing.plugin_settings("slack", table), data_dir=tmp_path / "data")


@contextlib.asynccontextmanager
async def running(slack, tmp_path, *groups, **extra):
    host = testing.FakeChannelHost(*groups)
    channel = channel_for(slack, tmp_path, **extra)

    def connected() -> bool:
        return channel.connections >= 1 and slack.connected

    async with testing.started(channel, host, ready=connected, what="a connection"):
        yield channel, host


OPS = make_group("ops", "C0OPS", admin=True)
FAM = make_group("fam", "C0FAM")


def test_messages_are_stored_once_and_acknowledged(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS, FAM) as (channel, host):
            ts = slack.say("C0OPS", "hello *there* &lt;3")
            await testing.eventually(lambda: host.messages, "the message")
            first = host.messages[0]
            assert (first["sender"], first["content"]) == ("ann", "hello *there* <3")
            assert first["platform_id"] == f"C0OPS:{ts}"
            envelope = slack.sent_envelopes[0]["envelope_id"]
            await testing.eventually(lambda: envelope in slack.acks, "the ack")

            slack.say("C0FAM", "approve 12", user="U0BOB")
            slack.say("C0NOWHERE", "nobody maps this chat")
            slack.say("C0FAM", f"<@{BOT_USER}> what's up?")  # message + app_mention events
            await testing.eventually(lambda: len(slack.acks) >= 5, "every envelope acknowledged")
            assert host.contents("fam") == ["approve 12", "@Pynchy what's up?"]
            assert host.messages[1]["sender"] == "bob"
            assert len(host.messages) == 3

    asyncio.run(scenario())


def test_direct_messages_are_addressed_and_triggers_respected(slack, tmp_path):
    dm = make_group("dm", "D0ANN")
    custom = make_group("custom", "C0CUS", trigger="@helper")

    async def scenario():
        async with running(slack, tmp_path, dm, custom) as (_, host):
            slack.say("D0ANN", "what's on today?")
            slack.say("C0CUS", f"<@{BOT_USER}> hi")
            await testing.eventually(lambda: len(host.messages) == 2, "both messages")
            assert host.contents("dm") == ["@Pynchy what's on today?"]
            assert host.contents("custom") == ["@helper hi"]

    asyncio.run(scenario())


def test_replies_are_converted_split_and_posted_once_per_key(slack, tmp_path):
    long = "\n\n".join(f"**part {i}** " + "lorem ipsum " * 60 for i in range(12))

    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, _):
            await channel.send(
                OPS, "**done**: see [it](https://x.io)", key="r1:1", kind="assistant"
            )
            await channel.send(OPS, "Started a new session.", key="host:7", kind="host")
            await channel.send(OPS, long, key="r1:2", kind="assistant")
            await channel.send(OPS, long, key="r1:2", kind="assistant")  # a retry
            await channel.send(
                OPS, "**done**: see [it](https://x.io)", key="r1:1", kind="assistant"
            )
        texts = [p["text"] for p in slack.posts_in("C0OPS")]
        assert texts[0] == "*done*: see <https://x.io|it>"
        assert texts[1] == ":gear: _pynchy:_ Started a new session."
        parts = texts[2:]
        assert len(parts) >= 3 and all(len(t) <= 3900 for t in parts)
        assert "".join(parts).count("*part ") == 12
        assert [p["metadata"]["event_payload"] for p in slack.posts][:2] == [
            {"key": "r1:1", "part": 0},
            {"key": "host:7", "part": 0},
        ]

    asyncio.run(scenario())


def test_sent_record_survives_a_restart(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, _):
            await channel.send(OPS, "once", key="run9:1", kind="assistant")
        async with running(slack, tmp_path, OPS) as (channel, _):
            await channel.send(OPS, "once", key="run9:1", kind="assistant")
        assert [p["text"] for p in slack.posts] == ["once"]

    asyncio.run(scenario())


def test_a_post_whose_answer_was_lost_is_not_posted_again(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, _):
            slack.drop_post_responses = 1  # stored by Slack, but the answer never arrives
            await channel.send(OPS, "exactly once", key="run1:1", kind="assistant")
            assert slack.refused["chat.postMessage(stored)"] == 1
        assert [p["text"] for p in slack.posts] == ["exactly once"]
        assert slack.calls_to("conversations.history")[-1]["include_all_metadata"] in ("1", True)

    asyncio.run(scenario())


def test_rate_limits_are_waited_out(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, _):
            slack.rate_limit_posts = 1
            await channel.send(OPS, "after the limit", key="run2:1", kind="assistant")
        assert [p["text"] for p in slack.posts] == ["after the limit"]
        assert len(slack.calls_to("chat.postMessage")) == 2

    asyncio.run(scenario())


def test_a_refused_reply_raises_with_a_hint(slack, tmp_path):
    nowhere = make_group("nowhere", "")
    nowhere.chat_id = None

    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, _):
            await channel.send(nowhere, "dropped", key="k", kind="assistant")  # logged only
            slack.history.pop("C0GONE", None)
            gone = make_group("gone", "C0GONE")
            original = slack._m_chat_postMessage

            async def not_found(args, request):
                return {"ok": False, "error": "channel_not_found"}

            slack._m_chat_postMessage = not_found
            try:
                with pytest.raises(UnavailableError) as err:
                    await channel.send(gone, "hi", key="k2", kind="assistant")
            finally:
                slack._m_chat_postMessage = original
            assert "channel_not_found" in err.value.message and err.value.hint

    asyncio.run(scenario())


def test_typing_is_a_reaction_on_the_message_being_answered(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, host):
            ts = slack.say("C0OPS", "think hard")
            await testing.eventually(lambda: host.messages, "the message")
            await channel.typing(OPS, True)
            await channel.typing(OPS, False)
            await testing.eventually(
                lambda: slack.reactions_on("C0OPS", ts) == ["add", "remove"], "reactions"
            )
            assert slack.reactions[0][3] == "hourglass_flowing_sand"

    asyncio.run(scenario())


def test_disconnect_message_reconnects_without_loss(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, host):
            slack.say("C0OPS", "before")
            await testing.eventually(lambda: len(host.messages) == 1, "first message")
            slack.disconnect()
            await testing.eventually(
                lambda: channel.connections >= 2 and slack.connected, "a new connection"
            )
            slack.say("C0OPS", "after")
            await testing.eventually(lambda: len(host.messages) == 2, "second message")
            assert host.contents("ops") == ["before", "after"]

    asyncio.run(scenario())


def test_network_loss_catches_up_once_and_replies_get_through(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, host):
            slack.say("C0OPS", "one")
            await testing.eventually(lambda: len(host.messages) == 1, "first message")
            slack.go_down()
            slack.say("C0OPS", "two, while down")
            slack.say("C0OPS", "three, while down")
            reply = asyncio.create_task(
                channel.send(OPS, "reply during the outage", key="r:1", kind="assistant")
            )
            await testing.eventually(
                lambda: slack.refused["chat.postMessage"] >= 1, "a post attempt"
            )
            await testing.eventually(
                lambda: slack.refused["apps.connections.open"] >= 1, "a reconnect attempt"
            )
            slack.go_up()
            await asyncio.wait_for(reply, 60)
            await testing.eventually(lambda: len(host.messages) == 3, "the missed messages")
            await testing.eventually(lambda: not slack.unacked, "redeliveries acknowledged")
            assert host.contents("ops") == ["one", "two, while down", "three, while down"]
            assert any(e["retry_attempt"] >= 1 for e in slack.sent_envelopes)  # redelivered too
            assert [p["text"] for p in slack.posts] == ["reply during the outage"]

    asyncio.run(scenario())


def test_catch_up_after_a_restart(slack, tmp_path):
    async def scenario():
        host = testing.FakeChannelHost(OPS)
        channel = channel_for(slack, tmp_path)
        await channel.start(host)
        await testing.eventually(lambda: channel.connections == 1, "connected")
        slack.say("C0OPS", "seen")
        await testing.eventually(lambda: len(host.messages) == 1, "first")
        await channel.stop()
        slack.unacked.clear()  # Slack gave up redelivering: only the history has it
        slack.history["C0OPS"].append(
            {"type": "message", "user": "U0BOB", "text": "while away", "ts": slack._next_ts()}
        )
        channel = channel_for(slack, tmp_path)
        await channel.start(host)
        try:
            await testing.eventually(lambda: len(host.messages) == 2, "the missed message")
            assert host.messages[1]["sender"] == "bob"
        finally:
            await channel.stop()

    asyncio.run(scenario())


def test_a_refused_token_turns_the_channel_off_without_crashing(slack, tmp_path, caplog):
    async def scenario():
        host = testing.FakeChannelHost(OPS)
        channel = channel_for(slack, tmp_path, bot_token="xoxb-wrong")
        with caplog.at_level(logging.ERROR, logger="pynchy.slack"):
            await channel.start(host)
            await asyncio.wait_for(channel._runner, 10)
            await channel.stop()
        assert "SLACK_BOT_TOKEN" in caplog.text and "invalid_auth" in caplog.text
        assert slack.connections == 0

    asyncio.run(scenario())
