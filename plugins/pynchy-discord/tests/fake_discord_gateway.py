"""The Gateway half of the local Discord (fake_discord.py): one WebSocket endpoint speaking
Discord's Gateway protocol with JSON encoding, and zlib-stream transport compression when the
client asks for it (https://discord.com/developers/docs/events/gateway):

- on connect HELLO (op 10) with heartbeat_interval; HEARTBEAT (op 1) is answered by
  HEARTBEAT_ACK (op 11);
- IDENTIFY (op 2): close 4004 for a bad token, 4013 without intents; else READY (v, user,
  guilds, session_id, resume_gateway_url, application) then GUILD_CREATE;
- RESUME (op 6): the session's dispatches after `seq`, in order, then RESUMED; an unknown
  session gets INVALID_SESSION (op 9, d=false);
- every dispatch (op 0) carries the session's next sequence number and is kept for replay,
  also while the session has no connection; RECONNECT (op 7) is sent on request.
"""

from __future__ import annotations

import json
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from fake_discord import FakeDiscord

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents)
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15


@dataclass(eq=False)
class Session:
    id: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    conn: Conn | None = None


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    request: web.Request
    deflate: Any = None  # a zlib compressobj when compress=zlib-stream
    session: Session | None = None

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if self.deflate is None:
            await self.ws.send_str(text)
        else:
            data = self.deflate.compress(text.encode()) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)


class Gateway:
    def __init__(self, server: FakeDiscord):
        self.server = server
        self.sessions: dict[str, Session] = {}
        self.conns: set[Conn] = set()
        self.queries: list[dict[str, str]] = []
        self.identifies = 0
        self.resumes = 0
        self.invalidated = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.queries.append(dict(request.query))
        deflate = zlib.compressobj() if request.query.get("compress") == "zlib-stream" else None
        conn = Conn(ws, request, deflate)
        self.conns.add(conn)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op, data = payload.get("op"), payload.get("d")
                if op == 1:
                    await conn.send({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    await self._identify(conn, data)
                elif op == 6:
                    await self._resume(conn, data)
                elif op in (3, 4, 8):  # presence, voice state, request members: accepted
                    continue
                else:
                    await ws.close(code=4001, message=b"Unknown opcode.")
        finally:
            self.conns.discard(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
        return ws

    async def _identify(self, conn: Conn, data: dict[str, Any]) -> None:
        if data.get("token") != self.server.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if "intents" not in data:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        self.identifies += 1
        session = Session(id=uuid.uuid4().hex, intents=int(data["intents"]))
        self.sessions[session.id] = session
        conn.session = session
        session.conn = conn
        await self.dispatch(
            session,
            "READY",
            {
                "v": 10,
                "user": {**self.server.bot, "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": self.server.guild_id, "unavailable": True}],
                "session_id": session.id,
                "resume_gateway_url": self.server.gateway_url,
                "application": {"id": self.server.application_id, "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        await self.dispatch(session, "GUILD_CREATE", self.server.guild_object())

    async def _resume(self, conn: Conn, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id") or "")
        if session is None or data.get("token") != self.server.token:
            self.invalidated += 1
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resumes += 1
        if session.conn is not None and session.conn is not conn:
            await session.conn.ws.close(code=4009)
        conn.session = session
        session.conn = conn
        last = data.get("seq") or 0
        for event in session.events:
            if event["s"] > last:
                await conn.send(event)
        await self.dispatch(session, "RESUMED", {})

    async def dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        if session.conn is not None and not session.conn.ws.closed:
            try:
                await session.conn.send(payload)
            except (ConnectionError, RuntimeError):
                session.conn = None  # kept in events: replayed on RESUME

    async def dispatch_message(self, message: dict[str, Any]) -> None:
        in_guild = bool(message.get("guild_id"))
        for session in list(self.sessions.values()):
            needed = GUILD_MESSAGES if in_guild else DIRECT_MESSAGES
            if not session.intents & needed:
                continue
            data = dict(message)
            readable = (
                session.intents & MESSAGE_CONTENT
                or not in_guild
                or message["author"]["id"] == self.server.bot["id"]
                or any(u["id"] == self.server.bot["id"] for u in message["mentions"])
            )
            if not readable:
                data["content"] = ""
            await self.dispatch(session, "MESSAGE_CREATE", data)

    # --- for the server's test controls -------------------------------------------------------

    def cut(self, *, forget_sessions: bool) -> None:
        """Abort every connection (as a network loss would); optionally expire the sessions."""
        for conn in list(self.conns):
            if conn.request.transport is not None:
                conn.request.transport.abort()
        if forget_sessions:
            self.sessions.clear()

    async def request_reconnect(self) -> None:
        for session in self.sessions.values():
            if session.conn is not None:
                await session.conn.send({"op": 7, "d": None, "s": None, "t": None})

    def connected(self) -> bool:
        return any(s.conn is not None for s in self.sessions.values())

    async def close(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close()
