"""Voice messages through python-telegram-bot and the local Bot API server: a voice note
is fetched (getFile, file URL) and handed to pynchy as a VoiceNote; a spoken reply goes
out with sendVoice (OGG/Opus) or sendDocument (WAV). Audio made by espeak-ng."""

from __future__ import annotations

import asyncio
import wave
from io import BytesIO

from fake_telegram import FakeTelegram, audio_kind
from telegram_helpers import DM_CHAT, FAMILY_CHAT, running

from pynchy_cli import Speech, testing


def test_a_voice_message_reaches_pynchy_as_audio(fake: FakeTelegram, config, host) -> None:
    audio = testing.spoken_audio("what is on the list today")

    async def scenario() -> None:
        async with running(config, host):
            fake.post_voice(DM_CHAT, audio, duration=3)  # a private chat: addressed
            fake.post_voice(FAMILY_CHAT, audio, caption="@pynchy_test_bot listen")
            fake.post_voice(FAMILY_CHAT, b"ID3" + bytes(64), mime="audio/mpeg", kind="audio")
            await testing.eventually(lambda: len(host.messages) == 3, "three voice messages")

    asyncio.run(scenario())
    dm, family, music = host.messages
    assert dm["content"] == "@bob" and dm["platform_id"] == f"{DM_CHAT}:1"
    note = dm["voice"]
    assert note.data == audio and note.mime == "audio/ogg" and note.duration == 3
    assert note.reference.startswith("telegram:AgAD") and fake.token not in note.reference
    assert family["content"] == "@Pynchy listen" and family["voice"].data == audio
    assert music["content"] == "" and music["voice"].mime == "audio/mpeg"
    assert len(fake.downloads) == 3 and len(fake.called("getFile")) == 3


def test_a_voice_message_too_large_is_stored_with_why(fake: FakeTelegram, config, host) -> None:
    async def scenario() -> None:
        async with running(config, host):
            fake.post_voice(DM_CHAT, b"OggS", size=40 * 1024 * 1024)
            await testing.eventually(lambda: host.messages, "the message")

    asyncio.run(scenario())
    note = host.messages[0]["voice"]
    assert note.data == b"" and "larger than 25 MB" in note.problem
    assert fake.called("getFile") == []  # never fetched


def _wav_speech() -> Speech:
    data = testing.spoken_audio("hello", opus=False)
    with wave.open(BytesIO(data)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    return Speech(data, "audio/wav", "reply.wav", seconds, "hello")


def test_spoken_replies_are_voice_messages_or_files_posted_once(
    fake: FakeTelegram, config, host, family
) -> None:
    ogg = testing.spoken_audio("the list has three things")
    opus = Speech(ogg, "audio/ogg", "reply.ogg", 2.4, "the list has three things")

    async def scenario() -> None:
        async with running(config, host) as channel:
            await channel.send_voice(family, opus, key="run1:1")
            await channel.send_voice(family, opus, key="run1:1")  # a retry: nothing new
            await channel.send_voice(family, _wav_speech(), key="run1:2")

    asyncio.run(scenario())
    voice, document = fake.media
    assert (voice.method, voice.chat_id, voice.filename) == ("sendVoice", FAMILY_CHAT, "reply.ogg")
    assert voice.data == ogg and audio_kind(voice.data) == "ogg"
    assert voice.params["duration"] == "2"
    assert (document.method, document.filename) == ("sendDocument", "reply.wav")
    assert document.data.startswith(b"RIFF") and document.data[8:12] == b"WAVE"
    assert fake.sent_to(FAMILY_CHAT) == []  # no text: the reply's text is send()'s
