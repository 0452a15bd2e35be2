"""Voice end to end: `pynchy serve --model echo --runtime process` with each channel plugin
(installed in the venv) against its platform's local server, and a local transcription
server (tests/fakes/transcription_server.py) as the account of `[voice]`. A voice note made
by espeak-ng arrives, is stored as `[voice] <transcript>` with its audio kept on the host,
the agent (echo) reads the transcript, the text reply arrives, and a spoken reply (OGG/Opus
made by espeak-ng and opusenc) is uploaded when the group's replies are spoken."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

from servehelp import Serve
from voicehelp import KEY, voice_config, whisper_fixture, write_config

from pynchy_cli import testing

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
for name in ("pynchy-telegram", "pynchy-slack", "pynchy-discord"):
    sys.path.insert(0, str(PLUGINS / name / "tests"))

from fake_discord import FakeDiscord  # noqa: E402
from fake_telegram import FakeTelegram, audio_kind  # noqa: E402
from slack_fake import APP_TOKEN, BOT_TOKEN, FakeSlack  # noqa: E402

whisper = whisper_fixture()
DM, FAMILY = 4242, -1001


def persons(serve: Serve, group: str) -> list[dict]:
    return [m for m in serve.messages(group) if m["sender_kind"] == "person"]


def kept_audio(home: Path, message: dict) -> tuple[dict, bytes]:
    """The message's audio reference, and the file it names (private to pynchy's user)."""
    record = json.loads(message["audio"])
    path = home / record["file"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return record, path.read_bytes()


def start(home: Path, plugin: str, env: dict[str, str], *config: str) -> Serve:
    write_config(home, "[limits]\nidle_timeout = 0\n", *config)
    return Serve(home, env={"PYNCHY_PLUGINS": plugin, **env}).start()


def test_telegram_voice_note_is_answered_in_text_and_speech(pynchy_home, cli, whisper):
    fake = FakeTelegram()
    fake.add_chat(DM, "private", "Ann")
    fake.add_chat(FAMILY, "supergroup", "Family")
    for args in (("home", "--admin", "--chat", str(DM)), ("family", "--chat", str(FAMILY))):
        assert cli("groups", "add", *args, "--channel", "telegram").exit_code == 0
    assert cli("groups", "set", "family", "--voice").exit_code == 0
    audio = testing.spoken_audio("what is the weather tomorrow")
    whisper.register(audio, "What is the weather tomorrow?")
    with fake:
        plugin = f'[plugin.telegram]\napi_url = "{fake.api_url}"\npoll_timeout = 2\n'
        serve = start(
            pynchy_home,
            "telegram",
            {"TELEGRAM_BOT_TOKEN": fake.token},
            voice_config(whisper),
            plugin,
        )
        try:
            fake.post(DM, "good morning")  # typed: the reply stays text
            serve.wait_for(lambda: fake.sent_to(DM), "the reply to a typed message")
            fake.post_voice(DM, audio, duration=3)
            replies = serve.wait_for(lambda: fake.sent_to(DM)[1:], "the reply to the voice note")
            assert "Ann: [voice] What is the weather tomorrow?" in replies[0].text
            [spoken] = serve.wait_for(lambda: fake.media, "the spoken reply")
            assert (spoken.method, spoken.chat_id) == ("sendVoice", DM)
            assert audio_kind(spoken.data) == "ogg" and len(spoken.data) > 2000
            assert int(spoken.params["duration"]) >= 2

            typed, voice = persons(serve, "home")
            assert typed["audio"] is None
            assert voice["content"] == "[voice] What is the weather tomorrow?"
            record, data = kept_audio(pynchy_home, voice)
            assert data == audio and record["source"].startswith("telegram:")
            assert record["duration"] == 3 and record["transcribed"] is True

            fake.post(FAMILY, "@pynchy_test_bot anything new?")  # --voice: typed, spoken
            serve.wait_for(lambda: len(fake.media) == 2, "the family's spoken reply")
            assert fake.media[1].chat_id == FAMILY and fake.sent_to(FAMILY)
        finally:
            serve.kill9()
    assert [u.filename for u in whisper.uploads] == ["voice.ogg"]
    assert KEY not in serve.log.read_text() and fake.token not in serve.log.read_text()


def test_slack_voice_clip_and_a_failed_transcription(pynchy_home, cli, whisper):
    for args in (("ops", "--admin", "--chat", "C0OPS"), ("fam", "--chat", "C0FAM")):
        assert cli("groups", "add", *args, "--channel", "slack").exit_code == 0
    audio = testing.spoken_audio("put the bins out")
    whisper.register(audio, "Put the bins out.")
    with FakeSlack() as slack:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": slack.base_url,
        }
        serve = start(pynchy_home, "slack", env, voice_config(whisper), "[plugin.slack]\n")
        try:
            serve.wait_for(lambda: slack.connected, "the Slack connection")
            slack.say_voice("C0OPS", audio, mimetype="audio/ogg")
            [post] = serve.wait_for(lambda: slack.posts_in("C0OPS"), "the text reply")
            assert "ann: [voice] Put the bins out." in post["text"]
            [upload] = serve.wait_for(lambda: slack.uploads, "the spoken reply")
            assert upload["channel"] == "C0OPS" and upload["file"]["name"] == "reply.ogg"
            assert upload["data"].startswith(b"OggS") and len(upload["data"]) > 2000
            [voice] = persons(serve, "ops")
            record, data = kept_audio(pynchy_home, voice)
            assert data == audio and record["source"].startswith("slack:F")

            assert cli("groups", "set", "ops", "--no-voice").exit_code == 0
            whisper.fail(500, times=2)  # the SDK tries twice
            slack.say_voice("C0OPS", audio, mimetype="audio/ogg")
            posts = serve.wait_for(lambda: slack.posts_in("C0OPS")[1:], "the second reply")
            note = "[voice message: could not transcribe: the transcription server answered 500]"
            assert note in posts[0]["text"]
            assert persons(serve, "ops")[1]["content"] == note
            assert json.loads(persons(serve, "ops")[1]["audio"])["transcribed"] is False
            assert len(slack.uploads) == 1  # --no-voice: not spoken
        finally:
            serve.kill9()
    assert "voice: transcription failed group=ops" in serve.log.read_text()


def test_discord_voice_message_is_answered_in_text_and_speech(pynchy_home, cli, whisper):
    audio = testing.spoken_audio("is the library open on sunday")
    whisper.register(audio, "Is the library open on Sunday?")
    with FakeDiscord() as fake:
        chat = fake.add_channel("general")
        assert cli("groups", "add", "main", "--admin", "--channel", "discord", "--chat", chat)
        plugin = f'[plugin.discord]\napi_base = "{fake.api_base}"\n'
        env = {"DISCORD_BOT_TOKEN": fake.token}
        serve = start(pynchy_home, "discord", env, voice_config(whisper), plugin)
        try:
            serve.wait_for(fake.connected, "the bot's Gateway session")
            fake.post_voice(chat, audio)
            texts = serve.wait_for(
                lambda: [m for m in fake.bot_messages(chat) if m["content"]], "the text reply"
            )
            assert "Ann: [voice] Is the library open on Sunday?" in texts[0]["content"]
            [upload] = serve.wait_for(lambda: fake.uploads, "the spoken reply")
            assert upload["filename"] == "reply.ogg" and upload["data"].startswith(b"OggS")
            [voice] = persons(serve, "main")
            record, data = kept_audio(pynchy_home, voice)
            assert data == audio and record["source"].startswith("discord:")
        finally:
            serve.kill9()
    assert fake.token not in serve.log.read_text()


def test_with_speak_never_replies_stay_text(pynchy_home, cli, whisper):
    fake = FakeTelegram()
    fake.add_chat(DM, "private", "Ann")
    assert cli("groups", "add", "home", "--admin", "--channel", "telegram", "--chat", str(DM))
    audio = testing.spoken_audio("hello")
    whisper.register(audio, "Hello.")
    with fake:
        plugin = f'[plugin.telegram]\napi_url = "{fake.api_url}"\npoll_timeout = 2\n'
        config = voice_config(whisper, speak="never")
        serve = start(pynchy_home, "telegram", {"TELEGRAM_BOT_TOKEN": fake.token}, config, plugin)
        try:
            fake.post_voice(DM, audio)
            serve.wait_for(lambda: fake.sent_to(DM), "the reply to the voice note")
            fake.post(DM, "and one typed")  # answered after the first reply was done with
            serve.wait_for(lambda: len(fake.sent_to(DM)) == 2, "the second reply")
            assert "[voice] Hello." in fake.sent_to(DM)[0].text
            assert fake.media == []
        finally:
            serve.kill9()
