"""The Discord channel with the real discord.py against the local Discord server."""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata as md

import pytest
from fake_discord import FakeDiscord
from pynchy_discord import doctor_problems
from pynchy_discord.channel import DiscordChannel

from pynchy_cli import ConfigError, Problem, Settings, UnavailableError, testing

eventually = functools.partial(testing.eventually, pause=0.05)  # a slower fake: poll less


def settings_for(fake: FakeDiscord, **table) -> Settings:
    return testing.plugin_settings(
        "discord", {"token": fake.token, "api_base": fake.api_base, **table}
    )


def make_group(gid: int, name: str, chat_id: str, *, admin: bool = False):
    return testing.make_group(name, chat_id, channel="discord", admin=admin, id=gid)


async def in_thread(fn, *args, **kwargs):
    """Call a fake-server control from async code without blocking the client's loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


class Rig:
    """A started channel with a main (admin) chat, a family chat and an unmapped chat."""

    def __init__(self, fake, **table):
        self.fake = fake
        self.main_chat = fake.add_channel("main")
        self.family_chat = fake.add_channel("family")
        self.stray_chat = fake.add_channel("stray")
        self.main = make_group(1, "main", self.main_chat, admin=True)
        self.family = make_group(2, "family", self.family_chat)
        self.host = testing.FakeChannelHost(self.main, self.family)
        self.settings = settings_for(fake, **table)
        self.channel = DiscordChannel.from_settings(self.settings)

    async def __aenter__(self) -> Rig:
        await self.channel.start(self.host)
        await eventually(lambda: self.fake.connected(), "the bot's Gateway session")
        await eventually(lambda: self.channel._caught_up.is_set(), "the first catch-up")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.channel.stop()

    async def post(self, chat: str, text: str) -> dict:
        return await in_thread(self.fake.post_as_user, chat, text)

    async def restart(self) -> None:
        """A new channel object over the same data folder (as after a serve restart)."""
        await self.channel.stop()
        self.channel = DiscordChannel.from_settings(self.settings)
        await self.__aenter__()


def run(coro):
    return asyncio.run(coro)


# --- configuration -------------------------------------------------------------------------


def test_factory_without_token_raises_config_error_with_hint():
    with pytest.raises(ConfigError) as err:
        DiscordChannel.from_settings(Settings())
    assert "\n" not in err.value.line()
    assert "DISCORD_BOT_TOKEN" in err.value.hint
    assert doctor_problems(Settings()) == [(err.value.message, err.value.hint)]
    assert DiscordChannel.doctor_problems(Settings()) == doctor_problems(Settings())


def test_token_from_environment_and_doctor_clean(monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "env-token")
    channel = DiscordChannel.from_settings(Settings())
    assert channel.config.token == "env-token"
    assert "env-token" not in repr(channel.config)
    assert doctor_problems(Settings()) == []
    bad = Settings(plugin={"discord": {"api_base": "discord.com", "tokn": "x"}})
    problems = doctor_problems(bad)
    assert any("api_base" in what for what, _ in problems)
    assert any("unknown keys: tokn" in what for what, _ in problems)


def test_entry_point_registers_the_channel():
    eps = {ep.name: ep for ep in md.entry_points(group="pynchy")}
    assert eps["discord"].value == "pynchy_discord.plugin"
    plugin = eps["discord"].load()
    registered = {}
    plugin.pynchy_channels(lambda name, factory: registered.__setitem__(name, factory))
    assert list(registered) == ["discord"]
    with pytest.raises(ConfigError):
        registered["discord"](Settings())
    assert plugin.doctor_problems(Settings())
    # pynchy doctor asks the plugin's pynchy_doctor hook, which answers doctor_problems
    expected = [Problem("discord", what, fix) for what, fix in plugin.doctor_problems(Settings())]
    assert plugin.pynchy_doctor(Settings()) == expected


# --- in ------------------------------------------------------------------------------------


def test_messages_in_mapped_chats_reach_the_host_once(fake):
    async def scenario():
        async with Rig(fake) as rig:
            sent = await rig.post(rig.main_chat, "hello pynchy")
            await rig.post(rig.stray_chat, "nobody maps me")
            await rig.post(rig.family_chat, f"{fake.mention()} what's for dinner?")
            await rig.post(rig.main_chat, "approve 12")
            await eventually(lambda: len(rig.host.messages) == 3, "three messages")
            first, dinner, approve = rig.host.messages
            assert first["platform_id"] == sent["id"]
            assert first["sender"] == "Ann" and first["content"] == "hello pynchy"
            assert first["group"] == "main" and first["channel"] == "discord"
            # a mention of the bot is the group's trigger
            assert dinner["content"] == "@Pynchy what's for dinner?"
            # approval replies pass through as they are
            assert approve["content"] == "approve 12"
            assert all(m["chat_id"] != rig.stray_chat for m in rig.host.messages)
            query = await in_thread(fake.gateway_query)
            assert query["v"] == "10" and query["encoding"] == "json"

    run(scenario())


# --- out -----------------------------------------------------------------------------------


def test_long_reply_is_split_and_mentions_defused(fake):
    async def scenario():
        async with Rig(fake) as rig:
            text = "## Plan\n" + "\n".join(f"- step {i}: " + "x" * 60 for i in range(80))
            text += "\n\nping @everyone and <@" + fake.ann["id"] + ">"
            await rig.channel.send(rig.main, text, key="run1:1", kind="assistant")
            posted = await in_thread(fake.bot_messages, rig.main_chat)
            assert len(posted) >= 3
            assert all(len(m["content"]) <= 2000 for m in posted)
            assert "\n".join(m["content"] for m in posted).count("step") == 80
            assert "@\u200beveryone" in posted[-1]["content"]
            assert not any(m["mention_everyone"] for m in posted)
            bodies = await in_thread(fake.post_bodies)
            assert all(b["allowed_mentions"]["parse"] == [] for b in bodies)
            assert all(b["enforce_nonce"] is True and len(b["nonce"]) <= 25 for b in bodies)

            await rig.channel.send(rig.main, "Started a new session.", key="host:9", kind="host")
            notice = (await in_thread(fake.bot_messages, rig.main_chat))[-1]
            assert notice["content"] == "> *pynchy:* Started a new session."
            # the bot's own messages come back on the Gateway and are not taken as input
            await rig.post(rig.main_chat, "thanks")
            await eventually(lambda: rig.host.messages, "the next message")
            assert rig.host.contents() == ["thanks"]

    run(scenario())


def test_a_retried_send_posts_nothing_twice(fake):
    async def scenario():
        async with Rig(fake) as rig:
            await rig.channel.send(rig.main, "once only", key="r:1", kind="assistant")
            await rig.channel.send(rig.main, "once only", key="r:1", kind="assistant")
            # after a restart the ledger on disk still knows the key
            await rig.restart()
            await rig.channel.send(rig.main, "once only", key="r:1", kind="assistant")
            # the answer to a POST is lost after Discord created the message: the retry
            # carries the same nonce and Discord hands back the first message
            await in_thread(fake.lose_next_post_response)
            await rig.channel.send(rig.main, "answer lost", key="r:2", kind="assistant")
            contents = [m["content"] for m in await in_thread(fake.bot_messages, rig.main_chat)]
            assert contents == ["once only", "answer lost"]
            assert (await in_thread(fake.counters))["lost_responses"] == 1
            # sends without a key (an agent's send_message) are not deduplicated
            await rig.channel.send(rig.main, "note", key="", kind="assistant")
            await rig.channel.send(rig.main, "note", key="", kind="assistant")
            contents = [m["content"] for m in await in_thread(fake.bot_messages, rig.main_chat)]
            assert contents.count("note") == 2

    run(scenario())


def test_typing_is_shown_while_active(fake):
    async def scenario():
        async with Rig(fake) as rig:
            await rig.channel.typing(rig.family, True)
            await eventually(lambda: fake.typing_count(rig.family_chat) >= 1, "typing")
            await rig.channel.typing(rig.family, False)
            assert rig.family_chat not in rig.channel._typing

    run(scenario())


# --- reconnects ----------------------------------------------------------------------------


def test_drop_then_resume_delivers_missed_messages_once(fake):
    async def scenario():
        async with Rig(fake) as rig:
            await rig.post(rig.main_chat, "before the drop")
            await eventually(lambda: len(rig.host.messages) == 1, "the first message")
            await in_thread(fake.drop)
            await rig.post(rig.main_chat, "during the drop 1")
            await rig.post(rig.main_chat, "during the drop 2")
            await eventually(lambda: fake.counters()["refused"] >= 1, "a refused reconnect")
            await in_thread(fake.restore)
            await eventually(lambda: len(rig.host.messages) == 3, "the missed messages")
            await eventually(lambda: fake.counters()["resumes"] >= 1, "a resumed session")
            await rig.post(rig.main_chat, "after the drop")
            await eventually(lambda: len(rig.host.messages) == 4, "the next message")
            assert rig.host.contents() == [
                "before the drop",
                "during the drop 1",
                "during the drop 2",
                "after the drop",
            ]
            assert fake.counters()["identifies"] == 1

    run(scenario())


def test_expired_session_catches_up_from_history(fake):
    async def scenario():
        async with Rig(fake) as rig:
            await rig.post(rig.family_chat, "first")
            await eventually(lambda: len(rig.host.messages) == 1, "the first message")
            await in_thread(fake.drop, forget_sessions=True)
            await rig.post(rig.family_chat, "missed 1")
            await rig.post(rig.family_chat, f"{fake.mention()} missed 2")
            await eventually(lambda: fake.counters()["refused"] >= 1, "a refused reconnect")
            await in_thread(fake.restore)
            # RESUME fails (INVALID_SESSION), a new IDENTIFY, then GET .../messages?after=
            await eventually(lambda: len(rig.host.messages) == 3, "the missed messages")
            counters = await in_thread(fake.counters)
            assert counters["invalidated"] >= 1 and counters["identifies"] == 2
            assert rig.host.contents() == ["first", "missed 1", "@Pynchy missed 2"]

    run(scenario())


def test_restart_catches_up_what_came_while_down(fake):
    async def scenario():
        async with Rig(fake) as rig:
            await rig.post(rig.main_chat, "one")
            await eventually(lambda: len(rig.host.messages) == 1, "the first message")
            await rig.channel.stop()
            await rig.post(rig.main_chat, "two")
            await rig.post(rig.main_chat, "three")
            await rig.restart()
            await eventually(lambda: len(rig.host.messages) == 3, "the missed messages")
            assert rig.host.contents() == ["one", "two", "three"]
            assert rig.host.duplicates == 0

    run(scenario())


def test_reconnect_request_resumes_without_duplicates(fake):
    async def scenario():
        async with Rig(fake) as rig:
            await rig.post(rig.main_chat, "a")
            await eventually(lambda: len(rig.host.messages) == 1, "the first message")
            await in_thread(fake.send_reconnect)  # op 7
            await eventually(lambda: fake.counters()["resumes"] >= 1, "a resumed session")
            await rig.post(rig.main_chat, "b")
            await eventually(lambda: len(rig.host.messages) == 2, "the second message")
            assert rig.host.contents() == ["a", "b"] and rig.host.duplicates == 0

    run(scenario())


def test_send_during_an_outage_is_delivered_once_after(fake):
    async def scenario():
        async with Rig(fake) as rig:
            await in_thread(fake.drop)
            sending = asyncio.create_task(
                rig.channel.send(rig.main, "sent while down", key="o:1", kind="assistant")
            )
            await eventually(lambda: fake.counters()["refused"] >= 2, "failed attempts")
            assert not sending.done()
            await in_thread(fake.restore)
            await asyncio.wait_for(sending, 120)
            contents = [m["content"] for m in await in_thread(fake.bot_messages, rig.main_chat)]
            assert contents == ["sent while down"]

    run(scenario())


def test_a_refused_token_stops_the_channel_with_a_hint(fake):
    async def scenario():
        rig = Rig(fake, token="wrong-token")
        await rig.channel.start(rig.host)
        await eventually(lambda: rig.channel.fatal, "the channel to give up")
        assert "DISCORD_BOT_TOKEN" in rig.channel.fatal
        with pytest.raises(UnavailableError):
            await rig.channel.send(rig.main, "hello", key="x:1", kind="assistant")
        await rig.channel.typing(rig.main, True)  # never raises
        await rig.channel.stop()

    run(scenario())
