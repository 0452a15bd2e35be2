"""A local Slack for tests: the Web API and the Socket Mode WebSocket, on 127.0.0.1.

Built from Slack's documented formats:
- Web API: POST or GET https://HOST/api/<method>, arguments in the query string, a form or
  a JSON body, the token in `Authorization: Bearer`; answers `{"ok": true, ...}` or
  `{"ok": false, "error": "..."}` (HTTP 429 with Retry-After for `ratelimited`).
  Methods: auth.test, apps.connections.open (app-level token), chat.postMessage (with
  message metadata), conversations.history (newest first, oldest/latest exclusive unless
  inclusive, cursor pagination, metadata only with include_all_metadata), users.info,
  users.conversations, reactions.add / reactions.remove; files: files.info,
  files.getUploadURLExternal (returns an upload_url on this server), the upload itself
  (POST the bytes, raw or multipart, to upload_url: `OK - <length>`) and
  files.completeUploadExternal (shares the files in channel_id as a message of the bot).
- Files people share (`say_voice`: a voice clip, subtype slack_audio) arrive as a
  `file_share` message whose files carry `url_private_download`; fetching it needs the bot
  token as `Authorization: Bearer`, and without it the answer is an HTML sign-in page with
  status 200, as Slack does.
- Socket Mode: apps.connections.open returns ws://127.0.0.1:PORT/link/?ticket=...; the
  server says `hello`, then sends `events_api` envelopes {envelope_id, type, payload,
  accepts_response_payload, retry_attempt, retry_reason}; the app acknowledges with
  {"envelope_id": ...}. Envelopes not acknowledged are sent again on the next connection
  with retry_attempt + 1, as Slack retries them. `disconnect` messages ask for a new
  connection.

The server runs its own event loop in a thread, so tests (sync or async) drive it through
plain method calls. `go_down()` drops every socket and resets every request until `go_up()`,
as a network loss would.
"""

from __future__ import annotations

import collections
import contextlib
import json
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web
from slack_fake_files import (  # the workspace's ids live there, with its files
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    TEAM,
    SlackFiles,
    channel_type,
)

from pynchy_cli import testing

__all__ = ["APP_TOKEN", "BOT_TOKEN", "BOT_USER", "FakeSlack"]
MAX_TEXT = 40_000


class FakeSlack(SlackFiles, testing.FakeServer):
    thread_name, timeout = "fake-slack", 10.0

    def __init__(self, users: dict[str, str] | None = None):
        self.users = users or {"U0ANN": "ann", "U0BOB": "bob"}
        self.history: dict[str, list[dict]] = collections.defaultdict(list)
        self.member_of: set[str] = set()  # chats users.conversations lists (plus history's)
        self.posts: list[dict] = []  # chat.postMessage calls that were stored
        self.reactions: list[tuple[str, str, str, str]] = []  # (op, chat, ts, name)
        self.calls: list[tuple[str, dict]] = []
        self.acks: list[str] = []
        self.files: dict[str, dict] = {}  # file id -> file object, with "_data"
        self.downloads: list[tuple[str, str]] = []  # (file id, Authorization header)
        self.uploads: list[dict] = []  # completed uploads: file, data, channel
        self.sent_envelopes: list[dict] = []  # every envelope sent, redeliveries too
        self.unacked: dict[str, dict] = {}
        self.connections = 0
        self.refused: collections.Counter[str] = collections.Counter()
        self.down = False
        self.drop_post_responses = 0  # store a post, then reset the connection: outcome unknown
        self.rate_limit_posts = 0  # answer chat.postMessage with 429 ratelimited this many times
        self.down_after_reaction = False  # go down once right after a reactions.add
        self._reacted: set[tuple[str, str, str]] = set()
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}
        self._n = 0
        self._base = int(time.time())
        self.port = 0

    # --- running --------------------------------------------------------------------------

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self._link)
        app.router.add_get("/files-pri/{team_file}/{name}", self._file_download)
        app.router.add_post("/upload/v1/{file_id}", self._file_upload)
        self.port = await self._listen(app)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # --- what a test does -------------------------------------------------------------------

    def say(
        self,
        chat: str,
        text: str,
        user: str = "U0ANN",
        *,
        thread_ts: str | None = None,
        events: tuple[str, ...] | None = None,
    ) -> str:
        """A person posts in chat: stored in the history, and delivered as events (a
        mention of the bot also as app_mention) when a socket is open, else on the next."""
        return self.call(self._say(chat, text, user, thread_ts, events))

    def say_voice(
        self,
        chat: str,
        audio: bytes,
        user: str = "U0ANN",
        *,
        text: str = "",
        mimetype: str = "audio/webm",
        size: int | None = None,
        check_file_info: bool = False,
    ) -> str:
        """A person records a voice clip in chat (a `file_share` message). `size` overrides
        the size Slack reports; check_file_info sends the file as its id alone, as Slack
        does for files from another workspace."""
        return self.call(self._say_voice(chat, audio, user, text, mimetype, size, check_file_info))

    def go_down(self, abrupt: bool = True) -> None:
        self.call(self._go_down(abrupt))

    def go_up(self) -> None:
        self.down = False

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's polite way: a disconnect message, then the app opens a new connection."""
        self.call(self._send_all({"type": "disconnect", "reason": reason, "debug_info": {}}))

    @property
    def connected(self) -> bool:
        return bool(self._sockets) and not self.down

    def posts_in(self, chat: str) -> list[dict]:
        return [p for p in list(self.posts) if p["channel"] == chat]

    def reactions_on(self, chat: str, ts: str) -> list[str]:
        return [op for op, c, t, _ in list(self.reactions) if c == chat and t == ts]

    def calls_to(self, method: str) -> list[dict]:
        return [p for m, p in list(self.calls) if m == method]

    # --- socket mode -------------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            return self._reset(request, "link")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets[ws] = request
        self.connections += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        for envelope in list(self.unacked.values()):
            envelope["retry_attempt"] += 1
            envelope["retry_reason"] = "timeout"
            await self._send(ws, envelope)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if "envelope_id" in data:
                    self.acks.append(data["envelope_id"])
                    self.unacked.pop(data["envelope_id"], None)
        finally:
            self._sockets.pop(ws, None)
        return ws

    async def _send(self, ws: web.WebSocketResponse, envelope: dict) -> None:
        self.sent_envelopes.append(json.loads(json.dumps(envelope)))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(envelope)

    async def _send_all(self, message: dict) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(message)

    async def _go_down(self, abrupt: bool) -> None:
        self.down = True
        for ws, request in list(self._sockets.items()):
            if abrupt and request.transport is not None:
                request.transport.abort()
            else:
                await ws.close()
            self._sockets.pop(ws, None)

    def _next_ts(self) -> str:
        self._n += 1
        return f"{self._base}.{self._n:06d}"

    async def _say(self, chat, text, user, thread_ts, events) -> str:
        ts = self._next_ts()
        message = {"type": "message", "user": user, "text": text, "ts": ts, "team": TEAM}
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.history[chat].append(message)
        kinds = events or (("message", "app_mention") if f"<@{BOT_USER}>" in text else ("message",))
        for kind in kinds:
            event = {**message, "type": kind, "channel": chat, "event_ts": ts}
            if kind == "message":
                event["channel_type"] = channel_type(chat)
            await self._emit(event)
        return ts

    async def _emit(self, event: dict) -> None:
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": {
                "token": "verification-token",
                "team_id": TEAM,
                "api_app_id": APP_ID,
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
                "authorizations": [
                    {"team_id": TEAM, "user_id": BOT_USER, "is_bot": True},
                ],
                "is_ext_shared_channel": False,
            },
        }
        self.unacked[envelope["envelope_id"]] = envelope
        if self._sockets and not self.down:
            await self._send(list(self._sockets)[-1], envelope)

    # --- web api -----------------------------------------------------------------------------

    def _reset(self, request: web.Request, method: str) -> web.StreamResponse:
        self.refused[method] += 1
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=503)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if self.down:
            return self._reset(request, method)
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth else str(args.pop("token", ""))
        self.calls.append((method, args))
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != wanted:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = await handler(args, request)
        if isinstance(answer, web.StreamResponse):
            return answer
        return web.json_response(answer)

    async def _m_auth_test(self, args, request) -> dict:
        return {
            "ok": True,
            "url": "https://pynchy-test.slack.com/",
            "team": "pynchy-test",
            "user": "pynchy",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    async def _m_apps_connections_open(self, args, request) -> dict:
        ticket = uuid.uuid4()
        return {
            "ok": True,
            "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}",
        }

    async def _m_chat_postMessage(self, args, request):
        chat, text = args.get("channel"), args.get("text")
        if not chat:
            return {"ok": False, "error": "channel_not_found"}
        if not text:
            return {"ok": False, "error": "no_text"}
        if len(text) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if self.rate_limit_posts > 0:
            self.rate_limit_posts -= 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        ts = self._next_ts()
        message = {
            "type": "message",
            "subtype": None,
            "text": text,
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "ts": ts,
            "team": TEAM,
        }
        message = {k: v for k, v in message.items() if v is not None}
        if metadata:
            message["metadata"] = metadata
        self.history[chat].append(message)
        self.posts.append({"channel": chat, "text": text, "ts": ts, "metadata": metadata})
        # Slack tells the app about its own messages too; the app must ignore them.
        await self._emit({**message, "channel": chat, "event_ts": ts, "channel_type": "channel"})
        if self.drop_post_responses > 0:
            self.drop_post_responses -= 1
            return self._reset(request, "chat.postMessage(stored)")
        return {"ok": True, "channel": chat, "ts": ts, "message": message}

    async def _m_conversations_history(self, args, request) -> dict:
        chat = args.get("channel")
        if chat not in self.history:
            return {"ok": False, "error": "channel_not_found"}
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or 9e12)
        inclusive = str(args.get("inclusive", "0")).lower() in ("1", "true")
        with_meta = str(args.get("include_all_metadata", "0")).lower() in ("1", "true")
        limit = min(int(args.get("limit") or 100), 999)
        start = int(args.get("cursor") or 0)

        def inside(m: dict) -> bool:
            ts = float(m["ts"])
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = sorted(
            (m for m in self.history[chat] if inside(m)), key=lambda m: float(m["ts"]), reverse=True
        )
        page = found[start : start + limit]
        if not with_meta:
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    async def _m_users_info(self, args, request) -> dict:
        user = args.get("user")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        name = self.users[user]
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM,
                "name": name,
                "real_name": name.title(),
                "is_bot": False,
                "profile": {"display_name": name, "real_name": name.title()},
            },
        }

    async def _m_users_conversations(self, args, request) -> dict:
        chats = sorted(self.member_of | set(self.history))
        return {
            "ok": True,
            "channels": [{"id": c, "is_member": True, "is_archived": False} for c in chats],
            "response_metadata": {"next_cursor": ""},
        }

    async def _m_reactions_add(self, args, request) -> dict:
        key = (args.get("channel"), args.get("timestamp"), args.get("name"))
        if not all(key):
            return {"ok": False, "error": "invalid_arguments"}
        if key in self._reacted:
            return {"ok": False, "error": "already_reacted"}
        self._reacted.add(key)
        self.reactions.append(("add", *key))
        if self.down_after_reaction:  # this answer still goes out, nothing after it
            self.down_after_reaction = False
            await self._go_down(True)
        return {"ok": True}

    async def _m_reactions_remove(self, args, request) -> dict:
        key = (args.get("channel"), args.get("timestamp"), args.get("name"))
        if key not in self._reacted:
            return {"ok": False, "error": "no_reaction"}
        self._reacted.discard(key)
        self.reactions.append(("remove", *key))
        return {"ok": True}
