"""A local Discord for tests: the REST API (v10) and the Gateway WebSocket, on 127.0.0.1.

Built from Discord's documented wire formats, for one bot in one guild:

- REST under /api/v10 with `Authorization: Bot TOKEN` (401 `{"message": "401: Unauthorized",
  "code": 0}` otherwise): GET /users/@me, GET /oauth2/applications/@me, GET /gateway,
  GET /gateway/bot, GET /channels/{id},
  GET /channels/{id}/messages (limit 1-100, before/after/around; newest first),
  POST /channels/{id}/messages (content <= 2000 characters, error 50035 past it, 50006 when
  empty without files; `nonce` with `enforce_nonce` returns the message already created with
  that nonce; a multipart/form-data body carries the JSON in `payload_json` and each file in
  `files[n]`, which become the message's attachments),
  POST /channels/{id}/typing (204). Unknown channels answer 404 with code 10003.
- The Gateway at /gateway (fake_discord_gateway.py): HELLO, heartbeats, IDENTIFY/READY,
  RESUME with replay, INVALID_SESSION, RECONNECT. MESSAGE_CREATE is dispatched to sessions
  that asked for GUILD_MESSAGES / DIRECT_MESSAGES, with empty content unless they asked for
  MESSAGE_CONTENT (or the message mentions the bot, or it is a DM), as Discord does.

Attachments are served from /attachments/{channel}/{id}/{filename} (the CDN: no token).
`post_voice` sends a voice message: one OGG attachment with `duration_secs` and a base64
`waveform`, the message flagged IS_VOICE_MESSAGE (1 << 13), no content.

Test controls (thread-safe, called from the test's thread): post_as_user, drop/restore (a
network outage: open connections are cut and every new one is closed at once while down),
send_reconnect, lose_next_post_response, and read-outs of what the bot did.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from fake_discord_gateway import Gateway

from pynchy_cli import testing

DISCORD_EPOCH = 1420070400000
API = "/api/v10"
IS_VOICE_MESSAGE = 1 << 13


def _json(data: Any, status: int = 200) -> web.Response:
    # Discord answers with exactly `Content-Type: application/json` (no charset parameter);
    # discord.py decodes a body as JSON only on that exact value.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _error(status: int, message: str, code: int, **extra: Any) -> web.Response:
    return _json({"message": message, "code": code, **extra}, status=status)


class FakeDiscord(testing.FakeServer):
    thread_name = "fake-discord"

    def __init__(self, token: str = "test-bot-token", bot_name: str = "pynchy-bot"):
        self.token = token
        self._counter = itertools.count()
        self.bot = self._user(bot_name, bot=True)
        self.ann = self._user("ann", global_name="Ann")
        self.application_id = self.snowflake()
        self.guild_id = self.snowflake()
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.typing: Counter[str] = Counter()
        self.posts: list[dict[str, Any]] = []  # every POST /messages body the bot sent
        self.files: dict[str, bytes] = {}  # attachment id -> its bytes (the CDN)
        self.uploads: list[dict[str, Any]] = []  # files the bot attached: filename, data, ...
        self.cdn_fetches: list[str] = []
        self.nonces: dict[tuple[str, str], dict[str, Any]] = {}
        self.gateway = Gateway(self)
        self.down = False
        self.refused = 0
        self.lost_responses = 0
        self._lose_next_post = False
        self.port = 0

    # --- ids and objects (https://discord.com/developers/docs/reference#snowflakes) ---------

    def snowflake(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH
        return str((ms << 22) | (next(self._counter) & 0xFFF))

    def _user(self, username: str, *, bot: bool = False, global_name: str | None = None):
        user = {
            "id": self.snowflake(),
            "username": username,
            "discriminator": "0",
            "global_name": global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user["bot"] = True
        return user

    def guild_object(self) -> dict[str, Any]:
        return {
            "id": self.guild_id,
            "name": "pynchy test guild",
            "icon": None,
            "owner_id": self.ann["id"],
            "unavailable": False,
            "large": False,
            "member_count": 2,
            "joined_at": datetime.now(UTC).isoformat(),
            "roles": [
                {
                    "id": self.guild_id,
                    "name": "@everyone",
                    "permissions": "104324673",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [c for c in self.channels.values() if c.get("guild_id")],
            "threads": [],
            "members": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "system_channel_flags": 0,
        }

    def _message(
        self, channel_id: str, author: dict[str, Any], content: str, **extra: Any
    ) -> dict[str, Any]:
        mentions = [
            u
            for u in (self.bot, self.ann)
            if f"<@{u['id']}>" in content or f"<@!{u['id']}>" in content
        ]
        return {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            **extra,
        }

    # --- lifecycle -------------------------------------------------------------------------

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get(API + "/users/@me", self._me)
        app.router.add_get(API + "/oauth2/applications/@me", self._application)
        app.router.add_get(API + "/applications/@me", self._application)
        app.router.add_get(API + "/gateway", self._get_gateway)
        app.router.add_get(API + "/gateway/bot", self._get_gateway_bot)
        app.router.add_get(API + "/channels/{id}", self._get_channel)
        app.router.add_get(API + "/channels/{id}/messages", self._list_messages)
        app.router.add_post(API + "/channels/{id}/messages", self._create_message)
        app.router.add_post(API + "/channels/{id}/typing", self._typing)
        app.router.add_get("/attachments/{channel}/{id}/{filename}", self._cdn)
        self.port = await self._listen(app)

    async def _shutdown(self) -> None:
        await self.gateway.close()
        await super()._shutdown()

    close = testing.FakeServer.stop

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- REST --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        if self.down:  # a network outage: the connection is cut before any answer
            self.refused += 1
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        if request.path.startswith(API + "/") and not authorized:
            return _error(401, "401: Unauthorized", 0)
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error(404, "404: Not Found", 0)

    async def _me(self, request: web.Request) -> web.Response:
        return _json({**self.bot, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": self.application_id,
                "name": self.bot["username"],
                "icon": None,
                "description": "",
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self.ann,
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "bot": self.bot,
                "interactions_endpoint_url": None,
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    def _channel_or_404(self, request: web.Request) -> dict[str, Any] | web.Response:
        channel = self.channels.get(request.match_info["id"])
        return channel if channel is not None else _error(404, "Unknown Channel", 10003)

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        return channel if isinstance(channel, web.Response) else _json(channel)

    async def _list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        if isinstance(channel, web.Response):
            return channel
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _error(400, "Invalid Form Body", 50035)
        history = self.messages[channel["id"]]  # oldest first
        q = request.query
        if "after" in q:
            after = int(q["after"])
            found = [m for m in history if int(m["id"]) > after][:limit]
        elif "before" in q:
            before = int(q["before"])
            found = [m for m in history if int(m["id"]) < before][-limit:]
        elif "around" in q:
            around = int(q["around"])
            older = [m for m in history if int(m["id"]) < around][-(limit // 2) :]
            newer = [m for m in history if int(m["id"]) >= around][: limit - len(older)]
            found = older + newer
        else:
            found = history[-limit:]
        # Discord answers newest first, whichever direction was asked for.
        return _json([_rest_view(m) for m in reversed(found)])

    async def _create_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        if isinstance(channel, web.Response):
            return channel
        body, files = await self._message_body(request)
        self.posts.append(body)
        content = body.get("content") or ""
        if not content.strip() and not files:
            return _error(400, "Cannot send an empty message", 50006)
        if len(content) > 2000:
            return _error(
                400,
                "Invalid Form Body",
                50035,
                errors={
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 2000 or fewer in length.",
                            }
                        ]
                    }
                },
            )
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            return _error(400, "Invalid Form Body", 50035)
        if nonce is not None and body.get("enforce_nonce"):
            seen = self.nonces.get((self.bot["id"], str(nonce)))
            if seen is not None:  # the same request again: no second message
                return _json(_rest_view(seen))
        parse = (body.get("allowed_mentions") or {"parse": ["users", "roles", "everyone"]}).get(
            "parse", []
        )
        extra = {"nonce": nonce} if nonce is not None else {}
        message = self._message(channel["id"], self.bot, content, **extra)
        message["attachments"] = [
            self._attachment(channel["id"], name, kind, data) for name, kind, data in files
        ]
        self.uploads.extend(
            {"channel": channel["id"], "filename": n, "content_type": k, "data": d}
            for n, k, d in files
        )
        message["mention_everyone"] = "everyone" in parse and (
            "@everyone" in content or "@here" in content
        )
        if channel.get("guild_id"):
            message["guild_id"] = channel["guild_id"]
        self.messages[channel["id"]].append(message)
        if nonce is not None:
            self.nonces[(self.bot["id"], str(nonce))] = message
        await self.gateway.dispatch_message(message)
        if self._lose_next_post:  # created, but the answer never reaches the client
            self._lose_next_post = False
            self.lost_responses += 1
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        return _json(_rest_view(message))

    async def _message_body(
        self, request: web.Request
    ) -> tuple[dict[str, Any], list[tuple[str, str, bytes]]]:
        """The JSON of a message post and its files (filename, content type, bytes)."""
        if not request.content_type.startswith("multipart/"):
            return await request.json(), []
        body: dict[str, Any] = {}
        files: list[tuple[str, str, bytes]] = []
        async for part in await request.multipart():
            if part.name == "payload_json":
                body = json.loads(await part.text())
            elif part.name and part.name.startswith("files[") and part.filename:
                kind = part.headers.get("Content-Type", "application/octet-stream")
                files.append((part.filename, kind, await part.read()))
        return body, files

    def _attachment(
        self, channel_id: str, filename: str, content_type: str, data: bytes, **extra: Any
    ) -> dict[str, Any]:
        attachment_id = self.snowflake()
        self.files[attachment_id] = data
        url = f"http://127.0.0.1:{self.port}/attachments/{channel_id}/{attachment_id}/{filename}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            **extra,
        }

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["id"])
        if data is None:
            return web.Response(status=404, text="Not Found")
        self.cdn_fetches.append(request.match_info["id"])
        return web.Response(body=data, content_type="application/octet-stream")

    async def _typing(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request)
        if isinstance(channel, web.Response):
            return channel
        self.typing[channel["id"]] += 1
        return web.Response(status=204)

    # --- test controls (from the test's thread) -------------------------------------------------

    def add_channel(self, name: str, *, dm: bool = False) -> str:
        def add() -> str:
            channel_id = self.snowflake()
            if dm:
                channel = {"id": channel_id, "type": 1, "recipients": [self.ann]}
            else:
                channel = {
                    "id": channel_id,
                    "type": 0,
                    "guild_id": self.guild_id,
                    "name": name,
                    "position": len(self.channels),
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                    "rate_limit_per_user": 0,
                    "last_message_id": None,
                }
            self.channels[channel_id] = channel
            self.messages[channel_id] = []
            return channel_id

        return self.call(add)

    def mention(self) -> str:
        return f"<@{self.bot['id']}>"

    def post_as_user(self, channel_id: str, content: str) -> dict[str, Any]:
        """A person writes in a channel: stored in its history and dispatched to the bot's
        sessions (buffered for replay while the bot is disconnected)."""

        async def post() -> dict[str, Any]:
            message = self._message(channel_id, self.ann, content)
            channel = self.channels[channel_id]
            if channel.get("guild_id"):
                message["guild_id"] = channel["guild_id"]
                message["member"] = {
                    "roles": [],
                    "joined_at": datetime.now(UTC).isoformat(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "nick": None,
                }
            self.messages[channel_id].append(message)
            await self.gateway.dispatch_message(message)
            return message

        return self.call(post)

    def post_voice(
        self,
        channel_id: str,
        audio: bytes,
        *,
        content_type: str = "audio/ogg",
        duration: float = 2.4,
        size: int | None = None,
    ) -> dict[str, Any]:
        """A person records a voice message: one OGG attachment with its duration and
        waveform, flagged IS_VOICE_MESSAGE. `size` overrides the size Discord reports."""

        async def post() -> dict[str, Any]:
            message = self._message(channel_id, self.ann, "", flags=IS_VOICE_MESSAGE)
            attachment = self._attachment(
                channel_id,
                "voice-message.ogg",
                content_type,
                audio,
                duration_secs=duration,
                waveform=base64.b64encode(bytes(range(0, 256, 4))).decode(),
            )
            if size is not None:
                attachment["size"] = size
            message["attachments"] = [attachment]
            channel = self.channels[channel_id]
            if channel.get("guild_id"):
                message["guild_id"] = channel["guild_id"]
            self.messages[channel_id].append(message)
            await self.gateway.dispatch_message(message)
            return message

        return self.call(post)

    def drop(self, *, forget_sessions: bool = False) -> None:
        """Cut the network: every open connection is aborted, new ones are cut at once.
        With forget_sessions the sessions expire too, so RESUME fails (INVALID_SESSION)."""

        async def cut() -> None:
            self.down = True
            self.gateway.cut(forget_sessions=forget_sessions)

        self.call(cut)

    def restore(self) -> None:
        def up() -> None:
            self.down = False

        self.call(up)

    def send_reconnect(self) -> None:
        """Ask every connected client to reconnect and resume (op 7)."""

        self.call(self.gateway.request_reconnect)

    def lose_next_post_response(self) -> None:
        def arm() -> None:
            self._lose_next_post = True

        self.call(arm)

    def connected(self) -> bool:
        return self.call(self.gateway.connected)

    def bot_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return self.call(
            lambda: [
                dict(m) for m in self.messages[channel_id] if m["author"]["id"] == self.bot["id"]
            ]
        )

    def all_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return self.call(lambda: [dict(m) for m in self.messages[channel_id]])

    def counters(self) -> dict[str, int]:
        return self.call(
            lambda: {
                "identifies": self.gateway.identifies,
                "resumes": self.gateway.resumes,
                "invalidated": self.gateway.invalidated,
                "refused": self.refused,
                "lost_responses": self.lost_responses,
                "zlib_connections": sum(
                    q.get("compress") == "zlib-stream" for q in self.gateway.queries
                ),
            }
        )

    def gateway_query(self) -> dict[str, str]:
        return self.call(lambda: dict(self.gateway.queries[-1]))

    def typing_count(self, channel_id: str) -> int:
        return self.call(lambda: self.typing[channel_id])

    def post_bodies(self) -> list[dict[str, Any]]:
        return self.call(lambda: [dict(b) for b in self.posts])


def _rest_view(message: dict[str, Any]) -> dict[str, Any]:
    """Messages fetched over REST carry no guild_id or member (Gateway events do)."""
    return {k: v for k, v in message.items() if k not in ("guild_id", "member")}
