"""Files on the local Bot API server (fake_telegram.py): getFile and the file download URL,
sendVoice and sendDocument with their multipart/form-data uploads. TelegramFiles is a mixin
of FakeTelegram and uses its state (chats, files, media, the lock)."""

from __future__ import annotations

import email.parser
import email.policy
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Upload:
    """A file part of a multipart/form-data request."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Media:
    """A file the bot sent (sendVoice, sendDocument)."""

    chat_id: int
    message_id: int
    method: str
    filename: str
    data: bytes
    params: dict[str, Any]


def audio_kind(data: bytes) -> str | None:
    """What sendVoice accepts, told by the file's first bytes: OGG with an Opus stream,
    MP3 (an ID3 tag or an MPEG frame) or M4A (an MP4 `ftyp` box)."""
    if data.startswith(b"OggS") and b"OpusHead" in data[:200]:
        return "ogg"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    if data[4:8] == b"ftyp":
        return "m4a"
    return None


def write_answer(req: BaseHTTPRequestHandler, status: int, kind: str, body: bytes) -> None:
    try:
        req.send_response(status)
        req.send_header("Content-Type", kind)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
    except OSError:
        pass


def parse_multipart(kind: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body: fields as strings, files as Upload."""
    head = f"Content-Type: {kind}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise ApiError(400, "Bad Request: can't parse multipart/form-data")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            params[name] = Upload(part.get_filename(), part.get_content_type(), data)
        else:
            params[name] = data.decode()
    return params


class TelegramFiles:
    token: str
    bot: dict[str, Any]
    files: dict[str, tuple[str, bytes]]  # file_id -> (file_path, data)
    media: list[Media]
    downloads: list[str]
    _cond: threading.Condition
    _message_ids: dict[int, Any]
    _chat: Callable[[dict[str, Any]], dict[str, Any]]  # FakeTelegram's: the chat or ApiError

    def _download(self, req: BaseHTTPRequestHandler, path: str) -> None:
        """GET /file/bot<TOKEN>/<file_path>: the file's bytes, 404 for anything else."""
        token, _, file_path = urllib.parse.unquote(path).removeprefix("/file/bot").partition("/")
        found = [data for p, data in self.files.values() if p == file_path]
        status, body = (200, found[0]) if token == self.token and found else (404, b"Not Found")
        if status == 200:
            with self._cond:
                self.downloads.append(file_path)
        write_answer(req, status, "application/octet-stream", body)

    def _m_getfile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file_id")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[10:14]}",
            "file_size": len(data),
            "file_path": path,
        }

    def _media(self, params: dict[str, Any], method: str, field: str) -> tuple[dict, Media]:
        chat = self._chat(params)
        upload = params.get(field)
        if not isinstance(upload, Upload) or not upload.data:
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        if len(upload.data) > 50 * 1024 * 1024:
            raise ApiError(413, "Request Entity Too Large")
        with self._cond:
            message_id = next(self._message_ids[chat["id"]])
            media = Media(chat["id"], message_id, method, upload.filename, upload.data, params)
            self.media.append(media)
            file_id = f"BQACAgQAAx{len(self.files) + 1:04d}sent"
            self.files[file_id] = (f"{field}/sent_{message_id}", upload.data)
        item = {"file_id": file_id, "file_unique_id": f"AgAD{message_id:04d}"}
        item["file_size"] = len(upload.data)
        message = {"message_id": message_id, "from": self.bot, "chat": chat}
        message["date"] = int(time.time())
        return {**message, field: item}, media

    def _m_sendvoice(self, params: dict[str, Any]) -> dict[str, Any]:
        upload = params.get("voice")
        if isinstance(upload, Upload) and audio_kind(upload.data) is None:
            raise ApiError(400, "Bad Request: voice must be OGG/Opus, MP3 or M4A")
        message, media = self._media(params, "sendVoice", "voice")
        message["voice"]["duration"] = int(params.get("duration") or 0)
        message["voice"]["mime_type"] = "audio/ogg"
        return message

    def _m_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        message, media = self._media(params, "sendDocument", "document")
        message["document"]["file_name"] = media.filename
        return message
