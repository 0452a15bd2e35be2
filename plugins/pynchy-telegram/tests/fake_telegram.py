"""A local server speaking the Telegram Bot API over HTTP, for tests.

Built from the Bot API's documented formats: requests are `GET|POST /bot<TOKEN>/<method>`
with parameters in the query string, an `application/x-www-form-urlencoded` or JSON body;
every answer is `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N,
"description": "...", "parameters": {...}}`. Implemented methods: getMe, getUpdates
(offset confirms every update below it, negative offsets, limit, long polling with `timeout`,
409 Conflict when a second poll starts), sendMessage (chat must exist; HTML parse mode
checked: supported tags only, balanced, entities escaped; at most 4096 UTF-16 units of text
after parsing), sendChatAction, getFile (a File with `file_path`, downloaded from
`GET /file/bot<TOKEN>/<file_path>`), sendVoice (a multipart/form-data upload; as the docs
say, the audio must be OGG/Opus, MP3 or M4A: anything else is refused here with 400) and
sendDocument (any file). A wrong token gets 401 Unauthorized, an unknown method 404 Not
Found.

The test plays the people: `post(chat, text)` queues an update (mention and bot_command
entities computed as Telegram does, offsets in UTF-16 units), also while the server is down;
`post_voice(chat, audio)` a voice message (`voice`, or `audio` for a music file), whose file
the bot fetches with getFile and the download URL.
`go_down()` closes every open connection and refuses new ones until `come_up()`, on the same
port; `drop("sendMessage")` closes the connection of the next such requests without
answering (before acting on them).
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fake_telegram_files import (
    ApiError,
    Media,
    TelegramFiles,
    audio_kind,
    parse_multipart,
    write_answer,
)

__all__ = ["ApiError", "FakeTelegram", "audio_kind", "parse_html", "utf16_len"]

# fmt: off
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
}
# fmt: on
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:=\"[^\"]*\"|='[^']*'|=[^\s>]+)?)*)\s*>")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """Telegram's HTML parse mode: the plain text, or ApiError 400 as Telegram words it."""
    plain: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "<":
            match = _TAG.match(text, pos)
            offset = len(text[:pos].encode())
            if not match:
                raise ApiError(
                    400,
                    f"Bad Request: can't parse entities: Unclosed start tag at byte offset"
                    f" {offset}",
                )
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in ALLOWED_TAGS:
                raise ApiError(
                    400,
                    f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at byte'
                    f" offset {offset}",
                )
            if closing:
                if not stack or stack[-1] != name:
                    raise ApiError(
                        400,
                        f"Bad Request: can't parse entities: Unexpected end tag at byte offset"
                        f" {offset}",
                    )
                stack.pop()
            else:
                if (
                    stack
                    and stack[-1] in ("code", "pre")
                    and not (stack[-1] == "pre" and name == "code")
                ):
                    raise ApiError(
                        400, "Bad Request: can't parse entities: entities can't be nested in code"
                    )
                stack.append(name)
            pos = match.end()
        elif ch == "&":
            match = _ENTITY.match(text, pos)
            if not match:
                offset = len(text[:pos].encode())
                raise ApiError(
                    400,
                    "Bad Request: can't parse entities: Character entity expected at byte"
                    f" offset {offset}",
                )
            plain.append(html.unescape(match.group(0)))
            pos = match.end()
        elif ch == ">":
            # The Bot API asks for every '<', '>' and '&' outside tags to be an entity.
            raise ApiError(400, "Bad Request: can't parse entities: Unexpected '>' in text")
        else:
            plain.append(ch)
            pos += 1
    if stack:
        raise ApiError(
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag"
            f' "{stack[-1]}"',
        )
    return "".join(plain)


@dataclass
class Sent:
    chat_id: int
    message_id: int
    text: str  # after parsing
    raw: str  # as sent
    parse_mode: str | None


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


def _entities(text: str) -> list[dict[str, Any]]:
    found = []
    for match in re.finditer(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z]\w{3,31})?", text):
        found.append(("bot_command", match))
    for match in re.finditer(r"(?<![\w@/])@[A-Za-z]\w{3,31}", text):
        found.append(("mention", match))
    out = []
    for kind, match in found:
        out.append(
            {
                "type": kind,
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return sorted(out, key=lambda e: e["offset"])


class FakeTelegram(TelegramFiles):
    def __init__(
        self,
        token: str = "123456789:AAHfake-Token_for-tests0123456789",
        *,
        bot_id: int = 123456789,
        bot_username: str = "pynchy_test_bot",
    ) -> None:
        self.token = token
        self.bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Pynchy Test",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, dict[str, Any]] = {}
        self.updates: list[dict[str, Any]] = []
        self.confirmed = 0  # every update_id below this is forgotten
        self.sent: list[Sent] = []
        self.calls: list[Call] = []
        self.actions: list[tuple[int, str]] = []
        self.media: list[Media] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data)
        self.downloads: list[str] = []  # file paths fetched
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count] = {}
        self._cond = threading.Condition()
        self._poll_generation = 0
        self._drops: dict[str, int] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._port = 0
        self.down = False

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as api.telegram.org

            def setup(self) -> None:
                super().setup()
                with server._cond:
                    server._sockets.add(self.request)

            def finish(self) -> None:
                with server._cond:
                    server._sockets.discard(self.request)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        self._port = self._httpd.server_address[1]
        httpd = self._httpd
        self._thread = threading.Thread(
            target=lambda: httpd.serve_forever(poll_interval=0.01), daemon=True
        )
        self._thread.start()
        self.down = False
        return self

    def _close(self) -> None:
        with self._cond:
            self.down = True
            self._cond.notify_all()
            sockets = list(self._sockets)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def stop(self) -> None:
        self._close()

    def go_down(self) -> None:
        """The network is gone: open connections are cut, new ones refused."""
        self._close()

    def come_up(self) -> None:
        """Back, on the same port."""
        self.start()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The server root, as pynchy-telegram's api_url (the library appends /bot<TOKEN>)."""
        return f"http://127.0.0.1:{self._port}"

    # --- the people's side -----------------------------------------------------------------

    def add_chat(self, chat_id: int, kind: str = "group", title: str = "Family") -> dict:
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = title
        else:
            chat["title"] = title
        with self._cond:
            self.chats[chat_id] = chat
            self._message_ids.setdefault(chat_id, itertools.count(1))
        return chat

    def post(
        self,
        chat_id: int,
        text: str,
        *,
        user: dict[str, Any] | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A person writes in a chat: queue the update the bot will receive."""
        user = user or {"id": 4242, "is_bot": False, "first_name": "Ann", "username": "ann"}
        with self._cond:
            chat = self.chats[chat_id]
            message: dict[str, Any] = {
                "message_id": next(self._message_ids[chat_id]),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            entities = _entities(text)
            if entities:
                message["entities"] = entities
            if reply_to is not None:
                original = next(s for s in self.sent if s.message_id == reply_to)
                message["reply_to_message"] = {
                    "message_id": original.message_id,
                    "from": self.bot,
                    "chat": chat,
                    "date": int(time.time()),
                    "text": original.text,
                }
            update = {"update_id": next(self._update_ids), "message": message}
            self.updates.append(update)
            self._cond.notify_all()
        return update

    def post_voice(
        self,
        chat_id: int,
        audio: bytes,
        *,
        mime: str = "audio/ogg",
        duration: int = 2,
        kind: str = "voice",
        caption: str | None = None,
        user: dict[str, Any] | None = None,
        size: int | None = None,
    ) -> dict[str, Any]:
        """A person sends a voice message (kind "voice"; "audio" for a music file). `size`
        overrides the file_size Telegram reports (to play a file too large to fetch)."""
        user = user or {"id": 4242, "is_bot": False, "first_name": "Ann", "username": "ann"}
        with self._cond:
            number = len(self.files) + 1
            file_id = f"AwACAgQAAx{number:04d}voice"
            extension = {"audio/ogg": "oga", "audio/mpeg": "mp3"}.get(mime, "bin")
            self.files[file_id] = (f"{kind}/file_{number}.{extension}", audio)
            chat = self.chats[chat_id]
            item: dict[str, Any] = {
                "file_id": file_id,
                "file_unique_id": f"AgAD{number:04d}",
                "duration": duration,
                "mime_type": mime,
                "file_size": len(audio) if size is None else size,
            }
            if kind == "audio":
                item["file_name"] = f"recording.{extension}"
            message: dict[str, Any] = {
                "message_id": next(self._message_ids[chat_id]),
                "from": user,
                "chat": chat,
                "date": int(time.time()),
                kind: item,
            }
            if caption:
                message["caption"] = caption
                entities = _entities(caption)
                if entities:
                    message["caption_entities"] = entities
            update = {"update_id": next(self._update_ids), "message": message}
            self.updates.append(update)
            self._cond.notify_all()
        return update

    def drop(self, method: str, times: int = 1) -> None:
        """Cut the connection of the next `times` calls of `method` before acting on them."""
        with self._cond:
            self._drops[method] = self._drops.get(method, 0) + times

    # --- inspection --------------------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[Sent]:
        with self._cond:
            return [s for s in self.sent if s.chat_id == chat_id]

    def called(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def pending(self) -> list[dict[str, Any]]:
        with self._cond:
            return [u for u in self.updates if u["update_id"] >= self.confirmed]

    # --- the server --------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(req.path)
        if url.path.startswith("/file/bot"):
            self._download(req, url.path)
            return
        try:
            match = re.fullmatch(r"/bot([^/]+)/(\w+)", url.path)
            if not match:
                raise ApiError(404, "Not Found")
            token, method = match.group(1), match.group(2)
            params = self._params(req, url.query)
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            with self._cond:
                self.calls.append(Call(method, params))
                drop = self._drops.get(method, 0)
                if drop:
                    self._drops[method] = drop - 1
            if drop:
                req.close_connection = True
                req.connection.shutdown(socket.SHUT_RDWR)
                return
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(params)
            body = {"ok": True, "result": result}
            status = 200
        except ApiError as err:
            status = err.code
            body = {"ok": False, "error_code": err.code, "description": err.description}
            if err.parameters:
                body["parameters"] = err.parameters
        except _Gone:
            return
        write_answer(req, status, "application/json", json.dumps(body).encode())

    @staticmethod
    def _params(req: BaseHTTPRequestHandler, query: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        kind = (req.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw and kind == "application/json":
            try:
                params.update(json.loads(raw))
            except ValueError as exc:
                raise ApiError(400, "Bad Request: can't parse JSON object") from exc
        elif raw and kind == "application/x-www-form-urlencoded":
            params.update(urllib.parse.parse_qsl(raw.decode()))
        elif raw and kind == "multipart/form-data":
            params.update(parse_multipart(req.headers.get("Content-Type", ""), raw))
        elif raw:
            raise ApiError(400, f"Bad Request: unsupported content type {kind}")
        return params

    @staticmethod
    def _int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Bad Request: invalid {name} specified") from exc

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._int(params, "chat_id")
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    # --- methods -------------------------------------------------------------------------------

    def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot

    def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = self._int(params, "offset")
        limit = max(1, min(100, self._int(params, "limit", 100) or 100))
        timeout = max(0, self._int(params, "timeout", 0) or 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):
            try:
                allowed = json.loads(allowed)
            except ValueError as exc:
                raise ApiError(400, "Bad Request: can't parse allowed_updates") from exc
        with self._cond:
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # an older poll still waiting ends with 409
            if offset is not None and offset > 0:
                self.confirmed = max(self.confirmed, offset)
            elif offset is not None and offset < 0:
                queued = [u["update_id"] for u in self.updates if u["update_id"] >= self.confirmed]
                if len(queued) > -offset:
                    self.confirmed = queued[offset]
            deadline = time.monotonic() + timeout
            while True:
                if self.down:
                    raise _Gone()
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only"
                        " one bot instance is running",
                    )
                ready = [u for u in self.updates if u["update_id"] >= self.confirmed]
                if allowed:
                    ready = [u for u in ready if any(k in u for k in allowed)]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0:
                    return ready[:limit]
                self._cond.wait(remaining)

    def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        raw = params.get("text")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: message text is empty")
        mode = params.get("parse_mode") or None
        if mode is not None and mode.lower() == "html":
            text = parse_html(raw)
        elif mode is None:
            text = raw
        else:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {mode}")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        with self._cond:
            message_id = next(self._message_ids[chat["id"]])
            self.sent.append(Sent(chat["id"], message_id, text, raw, mode))
        return {
            "message_id": message_id,
            "from": self.bot,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }

    def _m_sendchataction(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params)
        action = params.get("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        with self._cond:
            self.actions.append((chat["id"], action))
        return True


class _Gone(Exception):
    """The server went down while a request waited: answer nothing."""
