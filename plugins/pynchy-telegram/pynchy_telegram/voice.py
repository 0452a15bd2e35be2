"""Telegram's voice and audio messages, as pynchy's VoiceNote: which part of a message is
audio, and fetching it (getFile, then the file URL, which carries the bot token: it is
used here only, and the stored reference is the file's unique id)."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from telegram import Bot, Message
from telegram.error import NetworkError, TelegramError

from pynchy_cli import MAX_VOICE_BYTES, VoiceNote, is_audio, voice_size_problem

ATTEMPTS = 3


def audio_of(message: Message) -> Any:
    """The message's voice message, audio file or audio document, if it has one."""
    if message.voice is not None:
        return message.voice
    if message.audio is not None:
        return message.audio
    document = message.document
    if document is not None and is_audio(document.mime_type):
        return document
    return None


def seconds(value: Any) -> float | None:
    """A duration as python-telegram-bot gives it: seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) if isinstance(value, int | float) else None


async def fetch(
    bot: Bot, audio: Any, pause: Callable[[int, Exception], Awaitable[bool]]
) -> VoiceNote:
    """The audio, fetched; a note saying why when it is too large or cannot be fetched
    (after ATTEMPTS tries, each failure handed to `pause`, True: give up), so the message
    is stored either way."""
    mime = audio.mime_type or "audio/ogg"
    reference = f"telegram:{audio.file_unique_id}"
    with warnings.catch_warnings():  # PTB 22 warns that durations become timedeltas
        warnings.simplefilter("ignore")
        duration = seconds(getattr(audio, "duration", None))
    problem = voice_size_problem(audio.file_size)
    if problem is not None:
        return VoiceNote.unavailable(mime, reference, problem, duration)
    for attempt in range(ATTEMPTS):
        try:
            file = await bot.get_file(audio.file_id)
            if file.file_size and file.file_size > MAX_VOICE_BYTES:
                problem = voice_size_problem(file.file_size)
                return VoiceNote.unavailable(mime, reference, str(problem), duration)
            data = bytes(await file.download_as_bytearray())
            return VoiceNote(data, mime, reference, duration)
        except (NetworkError, TelegramError) as exc:
            if await pause(attempt, exc):
                break
    return VoiceNote.unavailable(mime, reference, "it could not be fetched from Telegram", duration)
