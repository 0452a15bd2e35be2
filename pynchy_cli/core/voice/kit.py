"""What a channel hands pynchy for a voice message, and what pynchy hands a channel to
speak a reply. Plugins import these from `pynchy_cli`.

The channel stays the only one holding its platform token: it downloads the audio itself
and passes the bytes, their type and a reference to where the platform keeps them (never
a URL that carries a token) to `host.receive(..., voice=VoiceNote(...))`.
"""

from __future__ import annotations

from dataclasses import dataclass

# OpenAI's transcription endpoint takes files up to 25 MB; channels download no more.
MAX_VOICE_BYTES = 25 * 1024 * 1024

# Audio types pynchy keeps and transcribes, with the extension the file is stored under
# (transcription servers tell the format by the file name's extension).
AUDIO_EXTENSIONS: dict[str, str] = {
    "audio/ogg": ".ogg",
    "audio/opus": ".ogg",
    "audio/oga": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/m4a": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/webm": ".webm",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
}


def audio_type(mime: str | None) -> str:
    """The bare media type: 'audio/ogg; codecs=opus' -> 'audio/ogg'."""
    return (mime or "").split(";")[0].strip().lower()


def is_audio(mime: str | None) -> bool:
    """Whether a platform's media type says the file is audio."""
    return audio_type(mime).startswith("audio/")


def size_problem(size: int | None, limit: int = MAX_VOICE_BYTES) -> str | None:
    """Why a voice message of `size` bytes is not fetched, or None when it may be."""
    if size is not None and size > limit:
        megabytes = limit // (1024 * 1024)
        return f"it is larger than {megabytes} MB" if megabytes else f"it is over {limit} bytes"
    return None


@dataclass(frozen=True)
class VoiceNote:
    """A voice or audio message as a channel received it.

    `reference` says where the platform keeps it, e.g. `telegram:FILE_UNIQUE_ID` or
    `discord:ATTACHMENT_ID`: stored with the message, never a URL carrying a token.
    `problem` is set instead of `data` when the channel could not fetch the audio (too
    large, the download failed): the message is stored with a note saying so."""

    data: bytes
    mime: str
    reference: str
    duration: float | None = None
    problem: str | None = None

    @classmethod
    def unavailable(
        cls, mime: str, reference: str, problem: str, duration: float | None = None
    ) -> VoiceNote:
        return cls(b"", mime, reference, duration, problem)

    def __repr__(self) -> str:  # never the bytes
        return (
            f"VoiceNote(mime={self.mime!r}, reference={self.reference!r},"
            f" bytes={len(self.data)}, problem={self.problem!r})"
        )


@dataclass(frozen=True)
class Speech:
    """A spoken reply for a channel's `send_voice`: OGG/Opus (`audio/ogg`) when an encoder
    is installed (opusenc or ffmpeg), else WAV (`audio/wav`)."""

    data: bytes
    mime: str
    filename: str  # reply.ogg or reply.wav
    duration: float  # seconds
    text: str  # what was spoken

    @property
    def is_opus(self) -> bool:
        return self.mime == "audio/ogg"

    def __repr__(self) -> str:
        return f"Speech(mime={self.mime!r}, bytes={len(self.data)}, duration={self.duration:.1f})"
