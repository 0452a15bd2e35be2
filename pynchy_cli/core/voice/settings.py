"""[voice] in config.toml: which account transcribes voice messages, and how replies are
spoken (see README "Voice")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pynchy_cli.core.voice.kit import MAX_VOICE_BYTES

# never: only groups set with --voice speak; voice_notes: a reply to a voice message is
# spoken too; always: every reply of every group (a group's --no-voice still wins).
SpeakWhen = Literal["never", "voice_notes", "always"]


class VoiceSettings(BaseModel):
    model_config = {"extra": "forbid"}

    account: str | None = Field(
        None, description="an [accounts.NAME] serving /v1/audio/transcriptions (provider openai)"
    )
    model: str = "whisper-1"
    language: str | None = Field(None, description="ISO-639-1 hint for the transcription")
    timeout: float = Field(120.0, gt=0, description="seconds one transcription may take")
    max_audio_bytes: int = Field(
        20 * 1024 * 1024, gt=0, le=MAX_VOICE_BYTES, description="larger audio is not kept"
    )
    keep_audio: bool = Field(True, description="keep each voice message's audio on the host")
    speak: SpeakWhen = "voice_notes"
    tts: Literal["espeak-ng", "piper"] = "espeak-ng"
    voice: str | None = Field(
        None, description="espeak-ng voice (en-us, de, ...) or the piper model file (.onnx)"
    )
    max_speech_chars: int = Field(1500, ge=50, le=20_000, description="longer replies are cut")
