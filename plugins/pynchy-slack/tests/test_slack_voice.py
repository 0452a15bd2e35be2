"""Voice clips through slack_sdk and the local Slack: an audio file in a message is fetched
with the bot token and handed to pynchy as a VoiceNote; a spoken reply is uploaded with
the v2 flow (files.getUploadURLExternal, upload, files.completeUploadExternal)."""

from __future__ import annotations

import asyncio

from slack_fake import BOT_TOKEN
from test_slack_channel import FAM, OPS, make_group, running

from pynchy_cli import Speech, testing


def test_a_voice_clip_reaches_pynchy_as_audio(slack, tmp_path):
    audio = testing.spoken_audio("remind me to call the plumber")
    dm = make_group("dm", "D0ANN")

    async def scenario():
        async with running(slack, tmp_path, OPS, FAM, dm) as (_, host):
            ts = slack.say_voice("C0OPS", audio, mimetype="audio/ogg")
            slack.say_voice("D0ANN", audio, check_file_info=True)  # its id alone: files.info
            slack.say_voice("C0FAM", audio, text="for the plumber")
            await testing.eventually(lambda: len(host.messages) == 3, "three voice clips")
            ops, direct, fam = host.messages
            assert ops["content"] == "" and ops["platform_id"] == f"C0OPS:{ts}"
            assert ops["voice"].data == audio and ops["voice"].mime == "audio/ogg"
            assert ops["voice"].reference.startswith("slack:F") and ops["voice"].duration == 2.4
            assert direct["content"] == "@Pynchy" and direct["voice"].data == audio
            assert fam["content"] == "for the plumber" and fam["voice"].mime == "audio/webm"

    asyncio.run(scenario())
    assert [auth for _, auth in slack.downloads] == [f"Bearer {BOT_TOKEN}"] * 3
    assert len(slack.calls_to("files.info")) == 1


def test_a_clip_too_large_is_not_fetched(slack, tmp_path):
    async def scenario():
        async with running(slack, tmp_path, OPS) as (_, host):
            slack.say_voice("C0OPS", b"x", size=30 * 1024 * 1024)
            await testing.eventually(lambda: host.messages, "the message")
            assert "larger than 25 MB" in host.messages[0]["voice"].problem

    asyncio.run(scenario())
    assert slack.downloads == []


def test_spoken_replies_are_uploaded_once_per_key(slack, tmp_path):
    ogg = testing.spoken_audio("three things on the list")
    speech = Speech(ogg, "audio/ogg", "reply.ogg", 2.0, "three things on the list")

    async def scenario():
        async with running(slack, tmp_path, OPS) as (channel, host):
            await channel.send_voice(OPS, speech, key="run1:1")
            await channel.send_voice(OPS, speech, key="run1:1")  # a retry: nothing new
            await asyncio.sleep(0.3)  # the bot's own file_share event comes back
            assert host.messages == []  # and is not taken for a person's

    asyncio.run(scenario())
    [upload] = slack.uploads
    assert upload["channel"] == "C0OPS" and upload["data"] == ogg
    assert upload["file"]["name"] == "reply.ogg" and upload["file"]["title"] == "Spoken reply"
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1
