"""The Telegram channel: long polling in, HTML messages out, typing while an agent runs.

In: one getUpdates long poll at a time. Each update is handed to pynchy (which stores it,
committed) before the next poll confirms it with `offset = last update_id + 1`, so nothing
is lost when the connection, the Bot API or pynchy itself goes away: Telegram keeps
unconfirmed updates and returns them on the next poll, and pynchy ignores a message id it
has already stored.

Out: a reply is converted to Telegram HTML and split within 4096 characters. Every part
is recorded in a small ledger under its reply key once Telegram accepted it; a retried
send with the same key posts only the parts not yet posted. Network errors are retried
with back-off until the reply is delivered or the channel stops.

Voice: a `voice` message (or an `audio` file, or a document whose type is audio) is
fetched with getFile and the file URL (the token stays here) and handed to pynchy as a
VoiceNote, which keeps and transcribes it. A spoken reply goes out with sendVoice when it
is OGG/Opus, else with sendDocument (sendAudio takes only MP3 or M4A).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, Message, Update, User
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from pynchy_cli import (
    Backoff,
    GroupFinder,
    SentRecord,
    Speech,
    TokenRedactor,
    TypingKeeper,
    VoiceNote,
)
from pynchy_telegram import inbound, voice
from pynchy_telegram.config import NAME, TOKEN_ENV, TelegramConfig
from pynchy_telegram.format import Chunk, render, render_host

log = logging.getLogger("pynchy.telegram")

TYPING_EVERY = 4.0  # Telegram shows a chat action for about 5 seconds
MAX_UPDATE_ATTEMPTS = 3  # an update that keeps failing is logged and skipped


# httpx logs every request URL at INFO, and the Bot API puts the token in the path:
# wherever the records of these loggers end up, they carry `<token>` instead.
_URL_LOGGERS = ("httpx", "telegram.Bot", "telegram.ext.ExtBot", log.name)


class ChannelStopped(Exception):
    """The channel stopped while a reply was still waiting to be delivered."""


class TelegramChannel:
    name = NAME

    def __init__(self, config: TelegramConfig, assistant_name: str = "Pynchy"):
        self.config = config
        self.assistant_name = assistant_name
        self._redactor = TokenRedactor(config.token).attach(*_URL_LOGGERS)
        self._retry = Backoff(0.5, config.reconnect_max_delay, jitter=0.25)
        # Separate connection pools: the long poll must never wait behind a send.
        self._poll_request = HTTPXRequest(
            connection_pool_size=1,
            connect_timeout=10.0,
            read_timeout=10.0,
            write_timeout=10.0,
            pool_timeout=10.0,
        )
        self._send_request = HTTPXRequest(
            connection_pool_size=8,
            connect_timeout=10.0,
            read_timeout=30.0,
            write_timeout=30.0,
            pool_timeout=30.0,
        )
        self.bot = Bot(
            config.token,
            base_url=f"{config.api_url}/bot",
            base_file_url=f"{config.api_url}/file/bot",
            request=self._send_request,
            get_updates_request=self._poll_request,
        )
        self.ledger = SentRecord(config.state_dir / "sent.sqlite3")
        self.host: Any = None
        self.me: User | None = None
        self.connected = asyncio.Event()
        self._closing = asyncio.Event()
        self._poller: asyncio.Task | None = None
        self._typing = TypingKeeper(
            self._send_typing, TYPING_EVERY, log=log, name="telegram typing"
        )
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._offset: int | None = None
        self._failures: dict[int, int] = {}
        self._groups = GroupFinder(NAME, log)

    @staticmethod
    def doctor_problems(settings: Any) -> list[tuple[str, str]]:
        """For `pynchy doctor`: (what, fix) pairs; see pynchy_telegram.doctor_problems."""
        from pynchy_telegram import doctor_problems

        return doctor_problems(settings)

    @classmethod
    def from_settings(cls, settings: Any) -> TelegramChannel:
        """The plugin's channel factory: raises ConfigError without credentials."""
        from pynchy_telegram.config import load

        return cls(load(settings), getattr(settings, "assistant_name", "Pynchy"))

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, host: Any) -> None:
        """Returns at once; connecting (and reconnecting) happens in the background, so an
        unreachable Bot API delays Telegram messages but never pynchy's start."""
        self.host = host
        self._closing.clear()
        self._poller = asyncio.create_task(self._run(), name="telegram-poll")

    async def stop(self) -> None:
        self._closing.set()
        self._typing.close()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._offset is not None:  # confirm what was handled, so it is not fetched again
            try:
                await asyncio.wait_for(
                    self.bot.get_updates(offset=self._offset, limit=1, timeout=0), timeout=5
                )
            except (TelegramError, TimeoutError) as exc:
                log.debug("telegram: final confirm failed: %s", self._redact(exc))
        for request in (self._poll_request, self._send_request):
            await request.shutdown()
        self.ledger.close()
        self._redactor.detach()

    async def _sleep(self, seconds: float) -> bool:
        """Wait, unless the channel stops first (then True)."""
        return await self._retry.wait(self._closing, seconds)

    def _backoff(self, attempt: int) -> float:
        return self._retry.delay(attempt)

    def _redact(self, exc: BaseException | str) -> str:
        return self._redactor.redact(exc)

    # --- receiving -------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while self.me is None:
            try:
                self.me = await self.bot.get_me()
            except InvalidToken:
                log.error(
                    "telegram: the Bot API refused the bot token; Telegram stays offline. "
                    "Check %s (from @BotFather) and api_url",
                    TOKEN_ENV,
                )
                return
            except (NetworkError, RetryAfter, TelegramError) as exc:
                delay = self._retry_after(exc) or self._backoff(attempt)
                attempt += 1
                log.warning(
                    "telegram: cannot reach the Bot API (%s); retrying in %.1fs",
                    self._redact(exc),
                    delay,
                )
                if await self._sleep(delay):
                    return
        log.info("telegram: connected as @%s", self.me.username)
        await self._poll()

    async def _poll(self) -> None:
        attempt = 0
        lost = False
        while not self._closing.is_set():
            # Right after (re)connecting, a short poll fetches what was missed at once.
            wait = self.config.poll_timeout if self.connected.is_set() else 0
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset,
                    timeout=wait,
                    allowed_updates=[Update.MESSAGE],
                )
            except Conflict as exc:
                delay = self._backoff(attempt)
                attempt += 1
                log.warning(
                    "telegram: another client polls with this bot token (%s); retrying in"
                    " %.1fs. Run one pynchy per bot, and no webhook",
                    self._redact(exc),
                    delay,
                )
            except InvalidToken:
                log.error("telegram: the Bot API refused the bot token; check %s", TOKEN_ENV)
                delay = self.config.reconnect_max_delay
            except (NetworkError, RetryAfter, TelegramError) as exc:
                delay = self._retry_after(exc) or self._backoff(attempt)
                attempt += 1
                if not lost:
                    log.warning("telegram: connection lost (%s); reconnecting", self._redact(exc))
                lost = True
                self.connected.clear()
            else:
                if lost:
                    log.info("telegram: reconnected; fetching what was missed")
                lost, attempt = False, 0
                self.connected.set()
                await self._handle_batch(updates)
                continue
            if await self._sleep(delay):
                return

    async def _handle_batch(self, updates: tuple[Update, ...]) -> None:
        for update in updates:
            try:
                await self._handle(update)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                count = self._failures.get(update.update_id, 0) + 1
                self._failures[update.update_id] = count
                if count < MAX_UPDATE_ATTEMPTS:
                    log.warning(
                        "telegram: update %s failed (%s); will retry",
                        update.update_id,
                        self._redact(exc),
                    )
                    await self._sleep(self._backoff(count))
                    return  # not confirmed: the next poll returns it again
                log.error(
                    "telegram: update %s skipped after %d attempts: %s",
                    update.update_id,
                    count,
                    self._redact(exc),
                )
            self._failures.pop(update.update_id, None)
            self._offset = update.update_id + 1

    async def _handle(self, update: Update) -> None:
        message = update.message
        if message is None:
            return
        if message.migrate_to_chat_id:
            log.warning(
                "telegram: chat %s became supergroup %s; map the new id with: pynchy groups"
                " add NAME --channel telegram --chat %s",
                message.chat.id,
                message.migrate_to_chat_id,
                message.migrate_to_chat_id,
            )
            return
        text = message.text if message.text is not None else message.caption
        audio = voice.audio_of(message)
        if (not text or not text.strip()) and audio is None:
            return  # photos without caption, stickers, joins: nothing to read
        if message.from_user is not None and self.me and message.from_user.id == self.me.id:
            return
        chat_id = str(message.chat.id)
        group = self._groups.find(self.host, chat_id, about=_describe(message.chat))
        if group is None:
            return
        last = inbound.message_number(self.host.last_platform_id(NAME, chat_id), chat_id)
        if last is not None and message.message_id <= last:
            log.debug("telegram: message %s:%s already stored", chat_id, message.message_id)
            return
        content = self._content(message, group, text or "").strip()
        extra = {"voice": await self._voice_note(audio)} if audio is not None else {}
        await self.host.receive(
            group,
            inbound.sender_name(message.from_user, message.sender_chat),
            content,
            channel=NAME,
            platform_id=inbound.platform_id(chat_id, message.message_id),
            **extra,
        )

    async def _voice_note(self, audio: Any) -> VoiceNote:
        async def pause(attempt: int, exc: Exception) -> bool:
            log.warning("telegram: fetching a voice message failed: %s", self._redact(exc))
            return await self._sleep(self._backoff(attempt))

        return await voice.fetch(self.bot, audio, pause)

    def _content(self, message: Message, group: Any, text: str) -> str:
        entities = message.entities if message.text is not None else message.caption_entities
        reply = message.reply_to_message
        return inbound.addressed_content(
            text,
            entities or (),
            bot_username=self.me.username if self.me else None,
            bot_id=self.me.id if self.me else None,
            trigger=group.trigger or f"@{self.assistant_name}",
            private=message.chat.type == ChatType.PRIVATE,
            reply_to_bot=bool(
                reply is not None
                and reply.from_user is not None
                and self.me is not None
                and reply.from_user.id == self.me.id
            ),
            admin=bool(group.admin),
        )

    # --- sending ---------------------------------------------------------------------------

    async def send(self, group: Any, text: str, *, key: str, kind: str) -> None:
        chat_id = group.chat_id
        if not chat_id:
            log.warning("telegram: group %s has no chat id; reply not sent", group.name)
            return
        chunks = render_host(text) if kind == "host" else render(text)
        lock = self._chat_locks.setdefault(str(chat_id), asyncio.Lock())
        async with lock:  # the parts of one reply stay together
            for part, chunk in enumerate(chunks):
                if key and self.ledger.posted(key, part):
                    continue
                message_id = await self._post(str(chat_id), chunk)
                if key and message_id is not None:
                    self.ledger.record(key, part, str(chat_id), message_id)

    async def _post(self, chat_id: str, chunk: Chunk) -> int | None:
        """Post one message, retrying network errors until it is accepted. Returns its
        message id, or None when Telegram refuses it for good (logged)."""
        attempt = 0
        text, mode = chunk.html, ParseMode.HTML
        while True:
            if self._closing.is_set():
                raise ChannelStopped("telegram channel stopped before the reply was sent")
            try:
                sent = await self.bot.send_message(chat_id, text, parse_mode=mode)
                return sent.message_id
            except RetryAfter as exc:
                delay = self._retry_after(exc) or 1.0
            except BadRequest as exc:
                if mode is not None and "parse entities" in str(exc).lower():
                    log.warning("telegram: HTML refused (%s); sending as plain text", exc)
                    text, mode = chunk.plain[:4096], None
                    continue
                log.error("telegram: message to chat %s refused: %s", chat_id, exc)
                return None
            except ChatMigrated as exc:
                log.error(
                    "telegram: chat %s is now %s; map it with: pynchy groups add NAME"
                    " --channel telegram --chat %s (reply not sent)",
                    chat_id,
                    exc.new_chat_id,
                    exc.new_chat_id,
                )
                return None
            except (Forbidden, InvalidToken) as exc:
                log.error("telegram: cannot post to chat %s: %s", chat_id, self._redact(exc))
                return None
            except (NetworkError, TelegramError) as exc:
                delay = self._backoff(attempt)
                attempt += 1
                log.warning(
                    "telegram: send to chat %s failed (%s); retrying in %.1fs",
                    chat_id,
                    self._redact(exc),
                    delay,
                )
            if await self._sleep(delay):
                raise ChannelStopped("telegram channel stopped before the reply was sent")

    async def send_voice(self, group: Any, speech: Speech, *, key: str) -> None:
        """A spoken reply: a voice message (sendVoice) when it is OGG/Opus, else a file
        (sendDocument). Posted once per reply key; raises when Telegram refuses it."""
        chat_id = str(group.chat_id or "")
        if not chat_id:
            return
        ledger_key = f"{key}:voice" if key else ""
        if ledger_key and self.ledger.posted(ledger_key, 0):
            return
        message_id = await self._upload(chat_id, speech)
        if ledger_key:
            self.ledger.record(ledger_key, 0, chat_id, message_id)

    async def _upload(self, chat_id: str, speech: Speech) -> int:
        """Post the audio, retrying a few times while the network fails."""
        attempt = 0
        while True:
            try:
                if speech.is_opus:
                    sent = await self.bot.send_voice(
                        chat_id,
                        speech.data,
                        duration=max(1, round(speech.duration)),
                        filename=speech.filename,
                    )
                else:
                    sent = await self.bot.send_document(
                        chat_id, speech.data, filename=speech.filename
                    )
                return sent.message_id
            except RetryAfter as exc:
                delay = self._retry_after(exc) or 1.0
            except (BadRequest, Forbidden, InvalidToken, ChatMigrated):
                raise  # refused for good: pynchy logs it; the text reply is out already
            except (NetworkError, TelegramError) as exc:
                if attempt >= 2:
                    raise
                delay = self._backoff(attempt)
                log.warning("telegram: voice to chat %s failed (%s)", chat_id, self._redact(exc))
            attempt += 1
            if await self._sleep(delay):
                raise ChannelStopped("telegram channel stopped before the voice reply was sent")

    @staticmethod
    def _retry_after(exc: BaseException) -> float | None:
        if not isinstance(exc, RetryAfter):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = exc.retry_after
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    # --- typing ----------------------------------------------------------------------------

    async def typing(self, group: Any, active: bool) -> None:
        chat_id = str(group.chat_id or "")
        if chat_id:
            self._typing.set(chat_id, active and not self._closing.is_set())

    async def _send_typing(self, chat_id: str) -> None:
        """Telegram clears a chat action after about 5 s: the keeper repeats it."""
        await self.bot.send_chat_action(chat_id, ChatAction.TYPING)


def _describe(chat: Any) -> str:
    """A chat's kind and title, for the hint about an unmapped chat."""
    title = chat.title or chat.full_name or chat.username or ""
    return f"{chat.type} {title!r}"
