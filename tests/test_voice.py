"""Voice on the host: transcription through the openai SDK against a local server speaking
OpenAI's /v1/audio/transcriptions, the audio kept private, failures stored as a note that
quotes nothing the server said, and speech made by espeak-ng (OGG/Opus through opusenc)."""

from __future__ import annotations

import asyncio
import json
import stat
import wave
from io import BytesIO

import pytest
from voicehelp import voice_config, whisper_fixture, write_config

from pynchy_cli import VoiceNote, testing
from pynchy_cli.core.context import Context
from pynchy_cli.core.groups import add_group
from pynchy_cli.core.serve.messages import store_message
from pynchy_cli.core.voice.desk import VoiceDesk, voice_content
from pynchy_cli.core.voice.group_voice import set_group_voice
from pynchy_cli.core.voice.settings import VoiceSettings
from pynchy_cli.core.voice.speech import SpeechUnavailable, speakable, synthesize

whisper = whisper_fixture()


def desk_for(home, *config: str) -> tuple[VoiceDesk, Context]:
    write_config(home, *config)
    ctx = Context()
    return VoiceDesk(ctx.db, ctx.paths, ctx.settings), ctx


def test_a_voice_note_is_kept_private_and_transcribed(pynchy_home, whisper) -> None:
    audio = testing.spoken_audio("buy oat milk and coffee")
    whisper.register(audio, "Buy oat milk and coffee.")
    desk, ctx = desk_for(pynchy_home, voice_config(whisper))
    group = add_group(ctx.db, ctx.paths, "home")
    note = VoiceNote(audio, "audio/ogg; codecs=opus", "telegram:AgAD0001", 2.0)

    content, audio_json = asyncio.run(desk.take(group, note, "@Pynchy"))

    assert content == "@Pynchy\n[voice] Buy oat milk and coffee."
    record = json.loads(audio_json)
    assert record["source"] == "telegram:AgAD0001" and record["transcribed"] is True
    assert record["mime"] == "audio/ogg" and record["bytes"] == len(audio)
    kept = pynchy_home / record["file"]
    assert kept.read_bytes() == audio and kept.suffix == ".ogg"
    assert kept.parent == pynchy_home / "audio" / "home"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((pynchy_home / "audio").stat().st_mode) == 0o700
    [upload] = whisper.uploads
    assert upload.model == "whisper-1" and upload.filename == "voice.ogg"
    assert upload.data == audio


def test_failures_are_stored_as_a_note_without_the_servers_words(
    pynchy_home, whisper, caplog: pytest.LogCaptureFixture
) -> None:
    audio = testing.spoken_audio("hello")
    wrong = "sk-wrong-key-that-must-stay-secret"
    desk, ctx = desk_for(pynchy_home, voice_config(whisper, key=wrong))
    group = add_group(ctx.db, ctx.paths, "home")
    note = VoiceNote(audio, "audio/ogg", "discord:1")

    content, audio_json = asyncio.run(desk.take(group, note, ""))

    assert content == (
        "[voice message: could not transcribe: the transcription server refused the"
        " account's key (401)]"
    )
    assert wrong not in caplog.text and "Incorrect API key" in caplog.text  # logged, masked
    assert json.loads(audio_json)["transcribed"] is False
    assert (pynchy_home / json.loads(audio_json)["file"]).exists()  # the audio is kept

    whisper.key = None
    too_big = VoiceNote(b"x" * 100, "audio/ogg", "slack:F1")
    desk.settings.voice.max_audio_bytes = 10
    content, _ = asyncio.run(desk.take(group, too_big, "look"))
    assert content == "look\n[voice message: could not transcribe: it is over 10 bytes]"
    fetched = VoiceNote.unavailable("audio/ogg", "telegram:x", "it could not be fetched")
    assert "could not be fetched" in asyncio.run(desk.take(group, fetched, ""))[0]
    assert len(whisper.uploads) == 0


def test_without_an_account_the_note_says_what_to_set(pynchy_home) -> None:
    desk, ctx = desk_for(pynchy_home, "")
    group = add_group(ctx.db, ctx.paths, "home")
    content, _ = asyncio.run(desk.take(group, VoiceNote(b"OggS", "audio/ogg", "x:1"), ""))
    assert content == "[voice message: could not transcribe: no transcription account is set]"
    assert voice_content("", "") == "[voice message: no speech recognised]"


def test_speech_is_ogg_opus_with_its_duration() -> None:
    settings = VoiceSettings()
    speech = asyncio.run(synthesize("-v --help **Three** things: `milk`, eggs.", settings))
    assert speech.mime == "audio/ogg" and speech.filename == "reply.ogg"
    assert speech.data.startswith(b"OggS") and b"OpusHead" in speech.data[:200]
    assert 1.0 < speech.duration < 10 and len(speech.data) > 2000
    assert speech.text == "-v --help Three things: milk , eggs."  # read, never an option


def test_speech_without_an_encoder_is_wav(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pynchy_cli.core.voice.speech.opus_command", lambda wav, ogg: None)
    speech = asyncio.run(synthesize("hello", VoiceSettings()))
    assert speech.mime == "audio/wav"
    with wave.open(BytesIO(speech.data)) as audio:
        assert audio.getnframes() > 0


def test_speakable_leaves_out_code_and_addresses() -> None:
    text = "See [the docs](https://x.example/a) or https://y.example.\n```py\nprint(1)\n```\nDone."
    assert speakable(text, 500) == "See the docs or (a link) (code left out) Done."
    long = "One sentence here. " * 20
    assert speakable(long, 60) == "One sentence here. One sentence here. One sentence here. …"


def test_which_replies_are_spoken(pynchy_home) -> None:
    desk, ctx = desk_for(pynchy_home, "")
    group = add_group(ctx.db, ctx.paths, "home")
    typed, _ = store_message(ctx.db, group, "ann", "hi")
    spoken, _ = store_message(ctx.db, group, "ann", "[voice] hi", audio="{}")
    assert not desk.wants_voice(group, typed["id"])  # speak = voice_notes, the default
    assert desk.wants_voice(group, spoken["id"])
    set_group_voice(ctx.db, group.id, False)
    assert not desk.wants_voice(group, spoken["id"])
    set_group_voice(ctx.db, group.id, True)
    assert desk.wants_voice(group, typed["id"])


def test_piper_without_its_program_or_model_says_what_is_missing(monkeypatch) -> None:
    settings = VoiceSettings(tts="piper")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(SpeechUnavailable, match="piper is not installed"):
        asyncio.run(synthesize("hello", settings))
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(SpeechUnavailable, match="piper needs a voice model"):
        asyncio.run(synthesize("hello", settings))


def test_groups_take_a_voice_flag(cli) -> None:
    assert cli("groups", "add", "family", "--voice").exit_code == 0
    shown = json.loads(cli("groups", "show", "family", "--json").output)
    assert shown["voice"] is True
    result = cli("groups", "set", "family", "--no-voice")
    assert result.exit_code == 0 and "voice" in result.output
    assert json.loads(cli("groups", "show", "family", "--json").output)["voice"] is False
    assert cli("groups", "add", "plain").exit_code == 0
    assert json.loads(cli("groups", "show", "plain", "--json").output)["voice"] is None
