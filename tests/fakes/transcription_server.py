"""A local server speaking OpenAI's transcription endpoint: POST /v1/audio/transcriptions.

The wire format of the API reference: a multipart/form-data body with the parts `file`
(the audio, whose file name's extension tells its format: flac, m4a, mp3, mp4, mpeg,
mpga, oga, ogg, wav, webm) and `model`, optionally `language`, `prompt`,
`response_format` (json, the default: `{"text": "..."}`; text: the bare text) and
`temperature`; `Authorization: Bearer KEY`. Errors are `{"error": {"message", "type",
"param", "code"}}` with 400 (bad request), 401 (key) or 404 (unknown model). A local
whisper server (whisper.cpp, faster-whisper-server, LocalAI, vLLM) answers the same way.

No speech recognition runs here: a test registers the audio it generated (with
espeak-ng) and the words it stands for; the server "transcribes" by looking up the
uploaded file's SHA-256 and answers "" for audio it was not told about. So a test proves
the audio arrived unchanged, as a file of the right name and type, with the right model.
The 401 message quotes the presented key in full, as a careless server might: tests
prove pynchy never repeats it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pynchy_cli import testing

FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")


@dataclass
class Upload:
    model: str
    filename: str
    content_type: str
    data: bytes
    fields: dict[str, str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _error(status: int, message: str, param: str | None = None, code: str | None = None):
    kind = "invalid_request_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status)


class TranscriptionServer(testing.FakeServer):
    thread_name = "fake-transcription"

    def __init__(
        self, key: str | None = "sk-whisper-test", models: tuple[str, ...] = ("whisper-1",)
    ):
        self.key = key
        self.models = models
        self.words: dict[str, str] = {}  # sha256 of an audio file -> what it says
        self.uploads: list[Upload] = []
        self.failures: list[int] = []  # answer the next requests with these statuses
        self.port = 0

    async def _serve(self) -> None:
        app = web.Application(client_max_size=26 * 1024 * 1024)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        self.port = await self._listen(app)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- what a test does ------------------------------------------------------------------

    def register(self, audio: bytes, text: str) -> None:
        """Audio the test made, and the words it stands for."""
        self.words[hashlib.sha256(audio).hexdigest()] = text

    def fail(self, status: int, times: int = 1) -> None:
        self.failures.extend([status] * times)

    # --- the endpoint -----------------------------------------------------------------------

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if self.key is not None and presented != self.key:
            return _error(401, f"Incorrect API key provided: {presented}.", code="invalid_api_key")
        if self.failures:
            status = self.failures.pop(0)
            return _error(status, f"fake server failure {status}")
        if not request.content_type.startswith("multipart/form-data"):
            return _error(400, "Could not parse multipart form", "file")
        fields: dict[str, str] = {}
        upload: tuple[str, str, bytes] | None = None
        reader = await request.multipart()
        async for part in reader:
            if part.name == "file":
                upload = (
                    part.filename or "",
                    part.headers.get("Content-Type", ""),
                    await part.read(),
                )
            elif part.name:
                fields[part.name] = await part.text()
        if upload is None or not upload[2]:
            return _error(400, "you must provide a file", "file")
        model = fields.get("model", "")
        if not model:
            return _error(400, "you must provide a model parameter", "model")
        if model not in self.models:
            return _error(404, f"The model `{model}` does not exist", "model", "model_not_found")
        filename, content_type, data = upload
        extension = filename.rpartition(".")[2].lower()
        if extension not in FORMATS:
            return _error(
                400,
                f"Invalid file format. Supported formats: {list(FORMATS)}",
                "file",
                "invalid_value",
            )
        record = Upload(model, filename, content_type, data, fields)
        self.uploads.append(record)
        text = self.words.get(record.sha256, "")
        if fields.get("response_format") == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        answer: dict[str, Any] = {"text": text}
        return web.json_response(answer)
