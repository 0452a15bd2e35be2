"""Discord's voice messages (an attachment with `duration_secs` and `waveform`, the message
flagged IS_VOICE_MESSAGE) and other audio attachments, as pynchy's VoiceNote. Attachments
are fetched from their CDN URL, which needs no token."""

from __future__ import annotations

import logging

import aiohttp
import discord

from pynchy_cli import VoiceNote, is_audio, voice_size_problem

log = logging.getLogger("pynchy.discord")


def audio_attachment(message: discord.Message) -> discord.Attachment | None:
    """The message's voice recording or first audio attachment, if any."""
    for attachment in message.attachments:
        if attachment.is_voice_message() or is_audio(attachment.content_type):
            return attachment
    return None


async def fetch(attachment: discord.Attachment) -> VoiceNote:
    """The attachment's audio, or a note saying why it is missing."""
    mime = attachment.content_type or "audio/ogg"
    reference = f"discord:{attachment.id}"
    problem = voice_size_problem(attachment.size)
    if problem is not None:
        return VoiceNote.unavailable(mime, reference, problem, attachment.duration)
    try:
        data = await attachment.read()
    except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        log.warning("discord: fetching attachment %s failed: %s", attachment.id, exc)
        return VoiceNote.unavailable(
            mime, reference, "it could not be fetched from Discord", attachment.duration
        )
    return VoiceNote(data, mime, reference, attachment.duration)
