"""Voice in tests: the local transcription server and the config that points pynchy at it.
Audio comes from espeak-ng (pynchy_cli.testing.spoken_audio); the server "transcribes" by
looking up the audio the test registered (no speech recognition runs here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakes.transcription_server import TranscriptionServer

KEY = "sk-whisper-test-0123456789abcdef"


def require_speech_tools() -> None:
    """espeak-ng and an OGG/Opus encoder: scripts/test installs them."""
    missing = [t for t in ("espeak-ng", "opusenc") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: apt-get install espeak-ng opus-tools")


def voice_config(server: TranscriptionServer, *, speak: str = "voice_notes", key: str = KEY) -> str:
    """config.toml lines: the account of the local whisper server, and [voice]."""
    return (
        '[accounts.local-whisper]\nprovider = "openai"\n'
        f'base_url = "{server.base_url}"\napi_key = "{key}"\n\n'
        f'[voice]\naccount = "local-whisper"\nmodel = "whisper-1"\nspeak = "{speak}"\n'
    )


def write_config(home: Path, *parts: str) -> None:
    (home / "config.toml").write_text("\n".join(parts))


def whisper_fixture():
    """A pytest fixture (assign it to a name in a test module): the transcription server,
    started for each test, after checking espeak-ng and opusenc are there."""

    @pytest.fixture
    def whisper():
        require_speech_tools()
        with TranscriptionServer(key=KEY) as server:
            yield server

    return whisper
