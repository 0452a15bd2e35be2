"""The Discord channel: a discord.py bot that carries Discord chats to pynchy groups.

In: MESSAGE_CREATE from the Gateway (and, after a fresh connection, what the chat's history
holds after the newest message pynchy stored) goes to host.receive with the Discord message
id as platform_id, so a message seen twice is stored once. A mention of the bot becomes the
group's trigger text.

Out: each reply is rendered to Discord's Markdown, split to 2000 characters and posted with
mentions disabled. Every part carries a nonce (with enforce_nonce) derived from the reply's
key and is recorded in a small ledger (a SentRecord) once posted, so a retried send posts
nothing twice.

discord.py does the Gateway work: HELLO, IDENTIFY, heartbeats, RESUME with the last sequence
after a drop (the server replays what was missed) and a new IDENTIFY when the session is gone.
It is pointed at another server by its class attributes `discord.http.Route.BASE` (the REST
base) and `DiscordWebSocket.DEFAULT_GATEWAY`, which this channel sets from GET /gateway/bot.

Voice: a voice message (or an audio attachment) is fetched and handed to pynchy as a
VoiceNote (voice.py); a spoken reply is posted as an audio attachment, which Discord plays
inline (discord.py cannot send the waveform a "voice message" needs).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import discord.http
import yarl
from discord.gateway import DiscordWebSocket

from pynchy_cli import (
    Backoff,
    GroupFinder,
    PynchyError,
    SentRecord,
    Speech,
    TokenRedactor,
    TypingKeeper,
    UnavailableError,
)
from pynchy_discord import voice
from pynchy_discord.config import NAME, DiscordConfig, read_config
from pynchy_discord.format import inbound_text, render, split_message

if TYPE_CHECKING:
    from pynchy_cli import ChannelHost, Group

log = logging.getLogger("pynchy.discord")

TYPING_EVERY = 8.0  # seconds; Discord shows "typing" for 10 s after each POST /typing
CATCH_UP_MAX = 500  # messages fetched per chat after a fresh connection
RETRY_MAX = 30.0  # seconds between send attempts, at most
_TRANSIENT = (OSError, aiohttp.ClientError, asyncio.TimeoutError)
_HINT = "Check the bot's access to the channel and the token (DISCORD_BOT_TOKEN)"
_HINT_TOKEN = "DISCORD_BOT_TOKEN (or token in [plugin.discord] of config.toml)"


def nonce_for(key: str) -> str:
    """Discord nonces are at most 25 characters; the same key gives the same nonce."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]


class _Bot(discord.Client):
    def __init__(self, channel: DiscordChannel):
        intents = discord.Intents.default()
        intents.message_content = True  # privileged: enable it for the bot in the portal
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            chunk_guilds_at_startup=False,
        )
        self.channel = channel

    async def on_connect(self) -> None:  # READY of a new session
        self.channel._caught_up.clear()
        self.channel._wake.set()

    async def on_ready(self) -> None:  # the new session's guilds have arrived
        await self.channel._catch_up(self)

    async def on_resumed(self) -> None:  # RESUMED: the server replayed what was missed
        self.channel._wake.set()
        await self.channel._catch_up(self)

    async def on_message(self, message: discord.Message) -> None:
        await self.channel._on_message(self, message)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("discord: handling %s failed", event_method)


class DiscordChannel:
    name = NAME

    def __init__(self, config: DiscordConfig, settings: Any):
        self.config = config
        self.assistant_name = settings.assistant_name
        self.ledger = SentRecord(config.state_file)
        self._redactor = TokenRedactor(config.token)
        self.host: ChannelHost | None = None
        self.client: _Bot | None = None
        self.fatal: str | None = None
        self._runner: asyncio.Task | None = None
        self._logged_in = asyncio.Event()
        self._caught_up = asyncio.Event()
        self._wake = asyncio.Event()  # set on (re)connection: pending sends retry at once
        self._ingest = asyncio.Lock()
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._typing = TypingKeeper(self._send_typing, TYPING_EVERY, log=log, name="discord typing")
        self._groups = GroupFinder(NAME, log)
        self._closing = False

    @classmethod
    def from_settings(cls, settings: Any) -> DiscordChannel:
        """The plugin's factory: raises ConfigError (serve logs and skips it) without a token."""
        return cls(read_config(settings), settings)

    @staticmethod
    def doctor_problems(settings: Any) -> list[tuple[str, str]]:
        from pynchy_discord.config import doctor_problems

        return doctor_problems(settings)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: ChannelHost) -> None:
        """Connect in the background: serve does not wait for Discord to answer."""
        self.host = host
        self._closing = False
        self._redactor.attach(log.name, "discord.client", "discord.http", "discord.gateway")
        self._caught_up.set()
        self._runner = asyncio.create_task(self._run(), name="discord")

    async def _run(self) -> None:
        backoff = Backoff(1.0, 60.0)
        while not self._closing:
            problem = None
            self._logged_in.clear()
            client = _Bot(self)
            self.client = client
            try:
                # discord.py's documented knobs for its endpoints are class attributes.
                discord.http.Route.BASE = self.config.api_base
                await client.login(self.config.token)
                _, url, _ = await client.http.get_bot_gateway()
                DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
                self._logged_in.set()
                log.info("discord: logged in as %s (%s)", client.user, client.user.id)
                backoff.reset()
                await client.connect(reconnect=True)
            except asyncio.CancelledError:
                raise
            except discord.LoginFailure:
                self._give_up("Discord refused the bot token", f"Set a valid {_HINT_TOKEN}")
            except discord.PrivilegedIntentsRequired:
                self._give_up(
                    "the Discord bot lacks the Message Content intent",
                    "Enable it in the Developer Portal: Bot > Privileged Gateway Intents",
                )
            except Exception as exc:  # network, Discord outage: try again, later each time
                problem = f"{type(exc).__name__}: {exc}"
            finally:
                with contextlib.suppress(Exception):
                    await client.close()
            if self._closing or self.fatal:
                return
            delay = backoff.next()
            if problem:
                log.warning("discord: connection failed (%s); retrying in %.0fs", problem, delay)
            await asyncio.sleep(delay)

    def _give_up(self, what: str, hint: str) -> None:
        self.fatal = f"{what}. {hint}"
        log.error("discord: %s", self.fatal)
        self._logged_in.set()  # wake senders: they raise instead of waiting

    async def stop(self) -> None:
        self._closing = True
        self._logged_in.set()
        self._wake.set()
        self._typing.close()
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        self.ledger.close()
        self._redactor.detach()

    # --- in ----------------------------------------------------------------------------------

    async def _on_message(self, client: _Bot, message: discord.Message) -> None:
        await self._caught_up.wait()  # after a new session, older missed messages go first
        async with self._ingest:
            await self._take(client, message)

    async def _catch_up(self, client: _Bot) -> None:
        """Fetch what each mapped chat holds after the newest message pynchy stored from it
        (GET /channels/{id}/messages?after=ID); already stored ones are ignored by the host."""
        async with self._ingest:
            try:
                await self._catch_up_chats(client)
            finally:
                self._caught_up.set()

    async def _catch_up_chats(self, client: _Bot) -> None:
        assert self.host is not None
        chats = set(self.ledger.chats())
        for guild in client.guilds:
            chats.update(str(c.id) for c in guild.text_channels)
            chats.update(str(t.id) for t in guild.threads)
        for chat in sorted(chats, key=int):
            if self.host.group_for_chat(self.name, chat) is None:
                continue
            last = self.host.last_platform_id(self.name, chat)
            if not last:
                continue  # nothing stored yet: no place to resume from
            channel = client.get_partial_messageable(int(chat))
            count = 0
            try:
                async for message in channel.history(
                    limit=CATCH_UP_MAX, after=discord.Object(int(last)), oldest_first=True
                ):
                    count += await self._take(client, message)
            except (discord.HTTPException, *_TRANSIENT) as exc:
                log.warning("discord: catching up chat %s failed: %s", chat, exc)
            if count:
                log.info("discord: caught up chat=%s messages=%d", chat, count)

    async def _take(self, client: _Bot, message: discord.Message) -> int:
        """Hand one Discord message to pynchy. Returns 1 if it was handed over."""
        assert self.host is not None
        me = client.user
        author = message.author
        if me is not None and author.id == me.id:
            return 0
        if author.bot and self.config.ignore_bots:
            return 0
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return 0
        chat = str(message.channel.id)
        group = self._groups.find(self.host, chat)
        if group is None:
            return 0
        names = {str(u.id): u.display_name for u in message.mentions}
        content = inbound_text(
            message.content,
            bot_id=me.id if me else None,
            trigger=group.trigger or f"@{self.assistant_name}",
            names=names,
            bot_mentioned=me is not None and any(u.id == me.id for u in message.mentions),
        )
        audio = voice.audio_attachment(message)
        others = [a for a in message.attachments if a is not audio]
        files = [f"[attachment: {a.filename} {a.url}]" for a in others]
        content = "\n".join([p for p in (content, *files) if p])
        if not content.strip() and audio is None:
            return 0
        extra = {"voice": await voice.fetch(audio)} if audio is not None else {}
        try:
            await self.host.receive(
                group,
                author.display_name,
                content,
                channel=self.name,
                platform_id=str(message.id),
                **extra,
            )
        except PynchyError as exc:
            log.warning("discord: message %s not taken: %s", message.id, exc.line())
            return 0
        self.ledger.remember_chat(chat)
        return 1

    # --- out ---------------------------------------------------------------------------------

    async def send(self, group: Group, text: str, *, key: str, kind: str) -> None:
        chat = group.chat_id
        if not chat:
            log.warning("discord: group %s has no chat id; reply not sent", group.name)
            return
        parts = split_message(render(text, kind))
        for number, part in enumerate(parts):
            if not key:  # an agent's send_message: no key, nothing to deduplicate
                await self._post(chat, part, nonce=None)
                continue
            part_key = f"{key}#{number}"
            lock = self._key_locks.setdefault(part_key, asyncio.Lock())
            async with lock:
                if self.ledger.posted(key, number) is None:
                    message = await self._post(chat, part, nonce=nonce_for(part_key))
                    self.ledger.record(key, number, chat, message.id)
            self._key_locks.pop(part_key, None)

    async def send_voice(self, group: Group, speech: Speech, *, key: str) -> None:
        """A spoken reply as an audio attachment, posted once per reply key."""
        chat = group.chat_id
        if not chat:
            return
        voice_key = f"{key}:voice" if key else ""
        if voice_key and self.ledger.posted(voice_key, 0) is not None:
            return
        nonce = nonce_for(voice_key) if voice_key else None
        message = await self._post(chat, None, nonce=nonce, speech=speech)
        if voice_key:
            self.ledger.record(voice_key, 0, chat, message.id)

    async def _post(
        self, chat: str, content: str | None, *, nonce: str | None, speech: Speech | None = None
    ) -> discord.Message:
        """POST /channels/{chat}/messages, retried while the network or Discord is down. The
        nonce makes Discord return the first message instead of creating a second one.
        `speech` goes along as an attachment."""
        backoff = Backoff(0.5, RETRY_MAX)
        while True:
            await self._logged_in.wait()
            if self._closing or self.fatal or self.client is None:
                why = f": {self.fatal}" if self.fatal else ""
                raise UnavailableError(
                    f"the Discord channel is not connected{why}",
                    "The reply stays undelivered and is sent again when serve restarts",
                )
            try:
                target = self.client.get_partial_messageable(int(chat))
                extra = {}
                if speech is not None:  # a File is read once: a new one for each attempt
                    extra["file"] = discord.File(io.BytesIO(speech.data), speech.filename)
                return await target.send(
                    content,
                    nonce=nonce,
                    allowed_mentions=discord.AllowedMentions.none(),
                    **extra,
                )
            except discord.HTTPException as exc:
                if exc.status < 500 and exc.status != 429:
                    raise UnavailableError(
                        f"Discord refused a message to chat {chat} ({exc.status}: {exc.text})",
                        _HINT,
                    ) from exc
                problem = f"{exc.status}: {exc.text}"
            except _TRANSIENT as exc:
                problem = f"{type(exc).__name__}: {exc}"
            delay = backoff.next()
            log.warning("discord: send to %s failed (%s); retrying in %.1fs", chat, problem, delay)
            self._wake.clear()
            await backoff.wait(self._wake, delay)  # a reconnection retries at once

    async def typing(self, group: Group, active: bool) -> None:
        """While active, POST /channels/{id}/typing every few seconds; never raises."""
        if group.chat_id:
            self._typing.set(group.chat_id, active and not self._closing)

    async def _send_typing(self, chat: str) -> None:
        await self._logged_in.wait()
        if not (self._closing or self.fatal or self.client is None):
            await self.client.get_partial_messageable(int(chat)).typing()
