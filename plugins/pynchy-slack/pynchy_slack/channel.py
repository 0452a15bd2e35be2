"""The Slack channel: Socket Mode in (slack_sdk's aiohttp SocketModeClient), Web API out
(AsyncWebClient).

- In: `message` and `app_mention` events from chats mapped to a group (`pynchy groups add
  NAME --channel slack --chat C0123`) are stored through host.receive before the envelope is
  acknowledged; a redelivered envelope or a message seen twice is stored once (platform id
  `CHAT:TS`). A mention of the bot becomes the group's trigger text.
- Reconnect: the SDK reconnects by itself (disconnect messages, dropped sockets, failed
  pings). On every `hello`, messages posted meanwhile are fetched with
  conversations.history after the last stored ts of each mapped chat.
- Out: replies converted to mrkdwn and split under 3,900 characters; each part is posted once
  per reply key (recorded in DATA/plugins/slack/sent.sqlite3, and looked up on Slack through
  the message's metadata when a post's outcome is unknown).
- Typing: Slack has no typing indicator for Socket Mode bots, so an :hourglass_flowing_sand:
  reaction sits on the triggering message while the agent runs (reactions.add / remove).
- Voice: an audio file in a message (a voice clip) is fetched and handed to pynchy as a
  VoiceNote; spoken replies are uploaded as files (voice.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from pynchy_cli import (
    Backoff,
    Group,
    GroupFinder,
    PynchyError,
    SentRecord,
    Speech,
    TokenRedactor,
    UnavailableError,
    channel_state_dir,
)
from pynchy_slack import voice
from pynchy_slack.config import NAME, SlackConfig, doctor_problems, load_config
from pynchy_slack.mrkdwn import (
    LIMIT,
    from_slack,
    host_notice,
    mentioned_users,
    split_message,
    to_mrkdwn,
)

log = logging.getLogger("pynchy.slack")

META_EVENT = "pynchy_reply"
PERSON_SUBTYPES = (None, "thread_broadcast", "file_share", "me_message")
NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
AUTH_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
    "missing_scope",
}
HISTORY_PAGES = 5  # at most 1,000 missed messages per chat are fetched after a reconnect
MAX_DELAY = 5.0


class _OneLine(logging.Filter):
    """The SDK logs every failed reconnect with a traceback; one line each is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.msg = f"{record.getMessage()} ({record.exc_info[1]!r})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_socket_log = logging.getLogger("pynchy.slack.socket")
_socket_log.addFilter(_OneLine())
# where a token could show: our lines, the SDK's (through _socket_log), the Web API client's
_TOKEN_LOGGERS = (log.name, _socket_log.name, "slack_sdk.web.async_base_client")


class SlackChannel:
    name = NAME
    doctor_problems = staticmethod(doctor_problems)

    def __init__(self, settings: Any, *, data_dir: Path | None = None):
        self.config: SlackConfig = load_config(settings)  # raises ConfigError without tokens
        self._data_dir = data_dir
        self._host: Any = None
        self._web: AsyncWebClient | None = None
        self._socket: SocketModeClient | None = None
        self._runner: asyncio.Task | None = None
        self._sent: SentRecord | None = None
        self._redactor = TokenRedactor(self.config.bot_token, self.config.app_token)
        self._lock = asyncio.Lock()
        self._stopping = False
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self.connections = 0  # hellos seen
        self._names: dict[str, str] = {}
        self._chats: set[str] = set()
        self._groups = GroupFinder(NAME, log)
        self._last_ts: dict[str, str] = {}  # newest person message per chat
        self._reacted: dict[str, str] = {}  # chat -> ts carrying our typing reaction
        self._typing_tasks: dict[str, asyncio.Task] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: Any) -> None:
        """Returns at once; connecting (and retrying while Slack is unreachable) goes on in
        the background, so serve starts whatever the network does."""
        self._host = host
        self._redactor.attach(*_TOKEN_LOGGERS)
        self._sent = SentRecord(channel_state_dir(NAME, self._data_dir) / "sent.sqlite3")
        self._web = AsyncWebClient(
            token=self.config.bot_token,
            base_url=self.config.base_url,
            timeout=30,
            retry_handlers=[],  # retries are ours: a post is never repeated blindly
        )
        self._runner = asyncio.create_task(self._connect(), name="slack-connect")

    async def stop(self) -> None:
        self._stopping = True
        pending = [t for t in self._typing_tasks.values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=5)
        for task in [self._runner, *self._typing_tasks.values()]:
            if task and not task.done():
                task.cancel()
        if self._socket is not None:
            try:
                await self._socket.close()
            except Exception as exc:  # closing a broken socket is best effort
                log.debug("slack: close failed: %r", exc)
        if self._sent is not None:
            self._sent.close()
            self._sent = None
        self._redactor.detach()

    async def _connect(self) -> None:
        auth = await self._retrying("auth.test", self._web.auth_test)
        if auth is None:
            return
        self.bot_user_id, self.bot_id = auth.get("user_id"), auth.get("bot_id")
        log.info("slack: signed in as %s (team %s)", auth.get("user"), auth.get("team"))
        self._socket = SocketModeClient(
            self.config.app_token,
            web_client=AsyncWebClient(base_url=self.config.base_url, timeout=30),
            ping_interval=self.config.ping_interval,
            logger=_socket_log,
        )
        self._socket.message_listeners.append(self._on_socket_message)
        url = await self._retrying("apps.connections.open", self._socket.issue_new_wss_url)
        if url is None:
            return
        self._socket.wss_uri = url
        await self._socket.connect()

    async def _retrying(self, what: str, call: Any) -> Any:
        """call() until it answers; None (and an error logged) if Slack refuses the token."""
        backoff = Backoff(0.2, MAX_DELAY)
        while not self._stopping:
            try:
                return await call()
            except SlackApiError as exc:
                error = exc.response.get("error", "")
                if error in AUTH_ERRORS:
                    variable = "SLACK_APP_TOKEN" if "connections" in what else "SLACK_BOT_TOKEN"
                    log.error(
                        "slack: %s refused the token (%s); check %s. The channel is off.",
                        what,
                        error,
                        variable,
                    )
                    return None
                log.warning("slack: %s failed (%s); retrying", what, error)
            except NETWORK_ERRORS as exc:
                log.warning("slack: %s unreachable (%r); retrying", what, exc)
            await backoff.wait()
        return None

    # --- in ------------------------------------------------------------------------------------

    async def _on_socket_message(self, client: Any, message: dict, raw: str | None) -> None:
        kind = message.get("type")
        if kind == "hello":
            self.connections += 1
            log.info("slack: connected (socket mode, connection %d)", self.connections)
            async with self._lock:
                await self._catch_up()
            return
        envelope_id = message.get("envelope_id")
        if not envelope_id:
            return  # disconnect and the like: the SDK handles them
        if kind == "events_api":
            event = (message.get("payload") or {}).get("event") or {}
            try:
                async with self._lock:
                    await self._on_event(event)
            except Exception:  # not acknowledged: Slack redelivers, catch-up fetches it
                log.exception("slack: event not stored (envelope %s)", envelope_id)
                return
        try:
            await client.send_socket_mode_response({"envelope_id": envelope_id})
        except Exception as exc:  # the socket went away: Slack redelivers, we store once
            log.info("slack: ack of %s not sent (%r)", envelope_id, exc)

    async def _on_event(self, event: dict) -> None:
        if event.get("type") not in ("message", "app_mention"):
            return
        chat = event.get("channel")
        if chat and self._from_a_person(event):
            await self._deliver(chat, event)

    def _from_a_person(self, message: dict) -> bool:
        return (
            message.get("subtype") in PERSON_SUBTYPES
            and not message.get("bot_id")
            and bool(message.get("user"))
            and message.get("user") != self.bot_user_id
            and bool(message.get("ts"))
        )

    async def _deliver(self, chat: str, message: dict) -> None:
        group = self._groups.find(self._host, chat)
        if group is None:
            return
        self._chats.add(chat)
        ts, user, text = message["ts"], message["user"], message.get("text") or ""
        await self._learn_names({user} | (mentioned_users(text) - {self.bot_user_id}))
        trigger = group.trigger or f"@{self.config.assistant_name}"
        content = from_slack(
            text, bot_user_id=self.bot_user_id, trigger=trigger, names=self._names
        ).strip()
        audio = await voice.audio_file(self._web, message)
        if not content and audio is None:
            return  # a file or an attachment alone: nothing to read
        if chat.startswith("D") and not group.admin and trigger.lower() not in content.lower():
            content = f"{trigger} {content}".strip()  # a direct message is addressed by nature
        if float(ts) >= float(self._last_ts.get(chat, "0")):
            self._last_ts[chat] = ts
        extra = {}
        if audio is not None:
            note = await voice.fetch(audio, self.config.bot_token, self.config.base_url)
            extra["voice"] = note
        try:
            await self._host.receive(
                group,
                self._names.get(user, user),
                content,
                channel=NAME,
                platform_id=f"{chat}:{ts}",
                **extra,
            )
        except PynchyError as exc:  # refused for good (too long, ...): say so, move on
            log.warning("slack: message %s in %s not stored: %s", ts, chat, exc.line())

    async def _learn_names(self, users: set[str]) -> None:
        for user in sorted(u for u in users if u and u not in self._names)[:10]:
            try:
                info = (await self._web.users_info(user=user))["user"]
            except (SlackApiError, *NETWORK_ERRORS) as exc:
                log.debug("slack: users.info %s failed: %r", user, exc)
                continue
            profile = info.get("profile") or {}
            self._names[user] = (
                profile.get("display_name") or info.get("real_name") or info.get("name") or user
            )

    async def _catch_up(self) -> None:
        """Fetch what was posted while the socket was down, in every mapped chat the bot is
        in, after the newest message already stored."""
        chats = set(self._chats)
        try:
            chats |= await self._member_chats()
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning("slack: cannot list the bot's conversations (%r)", exc)
        for chat in sorted(chats):
            if self._host.group_for_chat(NAME, chat) is None:
                continue
            last = self._host.last_platform_id(NAME, chat)
            if not last:
                continue  # nothing stored yet: start from now, not from the whole history
            try:
                missed = await self._history(chat, oldest=last.rpartition(":")[2])
            except (SlackApiError, *NETWORK_ERRORS) as exc:
                log.warning("slack: catch-up of %s failed (%r)", chat, exc)
                continue
            missed = sorted((m for m in missed if self._from_a_person(m)), key=_ts)
            if missed:
                log.info("slack: catching up chat=%s messages=%d", chat, len(missed))
            for message in missed:
                await self._deliver(chat, message)

    async def _member_chats(self) -> set[str]:
        chats: set[str] = set()
        cursor = None
        for _ in range(20):
            page = await self._web.users_conversations(
                types="public_channel,private_channel,mpim,im",
                exclude_archived=True,
                limit=200,
                cursor=cursor,
            )
            chats |= {c["id"] for c in page.get("channels") or []}
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return chats

    async def _history(self, chat: str, *, oldest: str, metadata: bool = False) -> list[dict]:
        messages: list[dict] = []
        cursor = None
        for _ in range(HISTORY_PAGES):
            page = await self._web.conversations_history(
                channel=chat,
                oldest=oldest,
                limit=200,
                cursor=cursor,
                include_all_metadata=metadata or None,
            )
            messages.extend(page.get("messages") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                break
        return messages

    # --- out -----------------------------------------------------------------------------------

    async def send(self, group: Group, text: str, *, key: str, kind: str) -> None:
        chat = group.chat_id
        if not chat:
            log.warning("slack: group %s has no chat id; reply not sent", group.name)
            return
        if self._web is None or self._sent is None:
            raise UnavailableError("slack channel is not started", "Restart pynchy serve")
        body = to_mrkdwn(text)
        if kind == "host":
            body = host_notice(body)
        key = key or f"unkeyed:{time.time_ns()}"
        for part, piece in enumerate(split_message(body, LIMIT)):
            if self._sent.posted(key, part):
                continue  # posted before: a retry of the same reply
            ts = await self._post(chat, piece, key, part)
            self._sent.record(key, part, chat, ts)

    async def send_voice(self, group: Group, speech: Speech, *, key: str) -> None:
        """A spoken reply, uploaded as a file once per reply key."""
        chat = group.chat_id
        if not chat or self._web is None or self._sent is None:
            return
        key = f"{key or f'unkeyed:{time.time_ns()}'}:voice"
        if self._sent.posted(key, 0):
            return
        self._sent.record(key, 0, chat, await voice.upload(self._web, chat, speech))

    async def _post(self, chat: str, text: str, key: str, part: int) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.send_timeout
        since = time.time()
        backoff, unsure = Backoff(0.2, MAX_DELAY), False
        while True:
            wait = backoff.next()
            try:
                if unsure:  # a post may have gone through: look before posting again
                    found = await self._find_post(chat, key, part, since)
                    if found:
                        return found
                    unsure = False
                answer = await self._web.chat_postMessage(
                    channel=chat,
                    text=text,
                    metadata={
                        "event_type": META_EVENT,
                        "event_payload": {"key": key, "part": part},
                    },
                    unfurl_links=False,
                    unfurl_media=False,
                )
                return answer["ts"]
            except SlackApiError as exc:
                error = exc.response.get("error", "")
                if error == "ratelimited":
                    wait = float(exc.response.headers.get("Retry-After", "1") or 1)
                elif error in TRANSIENT:
                    unsure = True
                else:
                    raise UnavailableError(
                        f"slack refused a reply to {chat}: {error}",
                        _hint(error),
                    ) from exc
            except NETWORK_ERRORS as exc:
                unsure = True
                log.warning("slack: posting to %s failed (%r); retrying", chat, exc)
            if loop.time() + wait > deadline:
                raise UnavailableError(
                    f"slack: could not deliver a reply to {chat} in {self.config.send_timeout:g}s",
                    "Check the network; undelivered replies are sent again when serve restarts",
                )
            await asyncio.sleep(wait)

    async def _find_post(self, chat: str, key: str, part: int, since: float) -> str | None:
        try:
            recent = await self._history(chat, oldest=f"{since - 120:.6f}", metadata=True)
        except SlackApiError as exc:  # cannot look (scope): post and accept the small risk
            log.warning("slack: cannot check %s for an earlier post (%s)", chat, exc)
            return None
        for message in recent:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if (
                meta.get("event_type") == META_EVENT
                and payload.get("key") == key
                and int(payload.get("part", -1)) == part
            ):
                return message["ts"]
        return None

    # --- typing --------------------------------------------------------------------------------

    async def typing(self, group: Group, active: bool) -> None:
        """A reaction on the message being answered; never blocks the run (done in order,
        in the background, per chat)."""
        chat = group.chat_id
        if not chat or self._web is None or self._stopping:
            return
        previous = self._typing_tasks.get(chat)
        self._typing_tasks[chat] = asyncio.create_task(self._typing(chat, active, previous))

    async def _typing(self, chat: str, active: bool, previous: asyncio.Task | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        emoji = self.config.typing_emoji
        if active:
            ts = self._last_ts.get(chat)
            if not ts or self._reacted.get(chat) == ts:
                return
            if self._reacted.get(chat):
                await self._react("reactions_remove", chat, self._reacted.pop(chat), emoji, 10)
            if await self._react("reactions_add", chat, ts, emoji, 10):
                self._reacted[chat] = ts
        elif chat in self._reacted:
            ts = self._reacted.pop(chat)
            await self._react("reactions_remove", chat, ts, emoji, self.config.send_timeout)

    async def _react(self, method: str, chat: str, ts: str, emoji: str, budget: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline, backoff = loop.time() + budget, Backoff(0.2, MAX_DELAY)
        while not self._stopping or method == "reactions_remove":
            try:
                await getattr(self._web, method)(channel=chat, timestamp=ts, name=emoji)
                return True
            except SlackApiError as exc:
                error = exc.response.get("error", "")
                if error in ("already_reacted", "no_reaction"):
                    return True
                if error != "ratelimited" and error not in TRANSIENT:
                    log.info("slack: %s on %s failed: %s", method, chat, error)
                    return False
            except NETWORK_ERRORS as exc:
                log.debug("slack: %s on %s failed (%r)", method, chat, exc)
            pause = backoff.next()
            if loop.time() + pause > deadline:
                return False
            await asyncio.sleep(pause)
        return False


def _ts(message: dict) -> float:
    return float(message.get("ts") or 0)


def _hint(error: str) -> str:
    return {
        "not_in_channel": "Invite the app to the channel (/invite @YourApp)",
        "channel_not_found": "Check the group's --chat id, and invite the app to that channel",
        "is_archived": "Unarchive the channel or map the group to another chat",
        "invalid_auth": "Check SLACK_BOT_TOKEN",
        "not_authed": "Set SLACK_BOT_TOKEN",
        "missing_scope": "Add the chat:write scope to the app and reinstall it",
        "msg_too_long": "This is a bug in pynchy-slack's splitting; please report it",
    }.get(error, "See https://api.slack.com/methods/chat.postMessage#errors")
