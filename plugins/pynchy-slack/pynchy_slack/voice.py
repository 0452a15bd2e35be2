"""Slack's audio files (voice clips: `subtype` slack_audio; any file whose mimetype is
audio), as pynchy's VoiceNote, and spoken replies uploaded as files.

A file's `url_private_download` needs the bot token (`Authorization: Bearer`, scope
files:read); the token is sent only to Slack's file host or the configured API host, and a
login page instead of the file (what Slack answers a request without access) is refused.
Uploads use the v2 flow through slack_sdk's files_upload_v2: files.getUploadURLExternal,
the bytes to the URL it gives, files.completeUploadExternal (scope files:write).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from pynchy_cli import (
    MAX_VOICE_BYTES,
    Speech,
    UnavailableError,
    VoiceNote,
    is_audio,
    voice_size_problem,
)

log = logging.getLogger("pynchy.slack")

FILE_HOST = "files.slack.com"
UNREACHABLE = "it could not be fetched from Slack"


class FetchFailed(Exception):
    pass


def looks_like_audio(file: dict[str, Any]) -> bool:
    return (
        is_audio(file.get("mimetype"))
        or file.get("subtype") == "slack_audio"
        or file.get("media_display_type") == "audio"
    )


async def audio_file(web: AsyncWebClient, message: dict[str, Any]) -> dict[str, Any] | None:
    """The message's first audio file. A file shared from another workspace may come as
    its id alone (`file_access: check_file_info`): files.info tells the rest."""
    for file in message.get("files") or []:
        if file.get("file_access") == "check_file_info" and file.get("id"):
            try:
                file = (await web.files_info(file=file["id"]))["file"]
            except (SlackApiError, aiohttp.ClientError, OSError) as exc:
                log.warning("slack: files.info %s failed: %r", file["id"], exc)
                continue
        if looks_like_audio(file):
            return file
    return None


def _may_carry_token(url: str, base_url: str) -> bool:
    host = urlsplit(url).netloc
    return host == FILE_HOST or host == urlsplit(base_url).netloc


async def fetch(file: dict[str, Any], token: str, base_url: str) -> VoiceNote:
    """The file's audio, or a note saying why it is missing."""
    mime = file.get("mimetype") or "audio/webm"
    reference = f"slack:{file.get('id', '')}"
    duration = file["duration_ms"] / 1000 if isinstance(file.get("duration_ms"), int) else None
    problem = voice_size_problem(file.get("size"))
    if problem is not None:
        return VoiceNote.unavailable(mime, reference, problem, duration)
    url = file.get("url_private_download") or file.get("url_private") or ""
    if not url or not _may_carry_token(url, base_url):
        log.warning("slack: file %s has no Slack address to fetch it from", file.get("id"))
        return VoiceNote.unavailable(mime, reference, UNREACHABLE, duration)
    try:
        data = await _download(url, token)
    except (FetchFailed, aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.warning("slack: fetching file %s failed: %s", file.get("id"), exc)
        return VoiceNote.unavailable(mime, reference, UNREACHABLE, duration)
    return VoiceNote(data, mime, reference, duration)


async def _download(url: str, token: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=120, connect=10)
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as answer,
    ):
        if answer.status != 200:
            raise FetchFailed(f"HTTP {answer.status}")
        if answer.content_type == "text/html":  # Slack's sign-in page: no access
            raise FetchFailed("Slack answered with a web page (does the app have files:read?)")
        data = bytearray()
        async for chunk in answer.content.iter_chunked(65536):
            data += chunk
            if len(data) > MAX_VOICE_BYTES:
                raise FetchFailed(str(voice_size_problem(len(data))))
        return bytes(data)


async def upload(web: AsyncWebClient, chat: str, speech: Speech) -> str:
    """Post the spoken reply as a file in the chat; returns its file id."""
    try:
        answer = await web.files_upload_v2(
            channel=chat, content=speech.data, filename=speech.filename, title="Spoken reply"
        )
    except SlackApiError as exc:
        error = exc.response.get("error", "")
        raise UnavailableError(
            f"slack refused a spoken reply to {chat}: {error}",
            "Add the files:write scope to the app and reinstall it",
        ) from exc
    return str((answer.get("file") or {}).get("id", ""))
