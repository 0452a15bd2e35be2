"""Voice messages through discord.py and the local Discord: a voice message's attachment is
fetched from the CDN and handed to pynchy as a VoiceNote; a spoken reply is posted as an
audio attachment (multipart: payload_json and files[0]), once per reply key."""

from __future__ import annotations

from fake_discord import FakeDiscord
from test_discord_channel import Rig, eventually, in_thread, run

from pynchy_cli import Speech, testing


def test_a_voice_message_reaches_pynchy_as_audio(fake: FakeDiscord):
    audio = testing.spoken_audio("what should we cook tonight")

    async def scenario():
        async with Rig(fake) as rig:
            sent = await in_thread(fake.post_voice, rig.main_chat, audio, duration=2.5)
            await in_thread(fake.post_voice, rig.family_chat, b"x", size=30 * 1024 * 1024)
            await eventually(lambda: len(rig.host.messages) == 2, "both voice messages")
            main, family = rig.host.messages
            assert main["platform_id"] == sent["id"] and main["content"] == ""
            note = main["voice"]
            assert note.data == audio and note.mime == "audio/ogg" and note.duration == 2.5
            assert note.reference == f"discord:{sent['attachments'][0]['id']}"
            assert "larger than 25 MB" in family["voice"].problem  # not fetched

    run(scenario())
    assert len(fake.cdn_fetches) == 1


def test_spoken_replies_are_attachments_posted_once(fake: FakeDiscord):
    ogg = testing.spoken_audio("rice and beans")
    speech = Speech(ogg, "audio/ogg", "reply.ogg", 1.2, "rice and beans")

    async def scenario():
        async with Rig(fake) as rig:
            await rig.channel.send_voice(rig.family, speech, key="run1:1")
            await rig.channel.send_voice(rig.family, speech, key="run1:1")  # a retry
            [message] = await in_thread(fake.bot_messages, rig.family_chat)
            [attachment] = message["attachments"]
            assert attachment["filename"] == "reply.ogg" and attachment["size"] == len(ogg)
            assert rig.host.messages == []  # the bot's own message is not a person's

    run(scenario())
    [upload] = fake.uploads
    assert upload["data"] == ogg and upload["filename"] == "reply.ogg"
    assert fake.post_bodies()[0]["nonce"]  # keyed: a lost answer cannot post it twice
