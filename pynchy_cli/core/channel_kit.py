"""What every chat channel needs, whatever its platform: the group of a chat (and a hint
for chats no group is mapped to), messages split to the platform's limit, a typing
indicator kept alive while an agent runs, retry delays, tokens kept out of logs, and a
record of what was already posted. Plugins import these from `pynchy_cli`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pynchy_cli.core.groups import Group
    from pynchy_cli.core.serve.channels import ChannelHost

FENCE = "```"
BREAKS = ("\n\n", "\n", " ")  # paragraph, line, word


# --- which group ---------------------------------------------------------------------------


class GroupFinder:
    """The group mapped to a chat. A chat no group is mapped to gets one log line (once per
    chat): its messages are ignored, and the command that maps it."""

    def __init__(self, channel: str, log: logging.Logger):
        self.channel = channel
        self._log = log
        self._told: set[str] = set()

    def find(self, host: ChannelHost, chat_id: str, about: str = "") -> Group | None:
        """`about` describes the chat in the hint (its kind and title, say)."""
        group = host.group_for_chat(self.channel, chat_id)
        if group is None and chat_id not in self._told:
            self._told.add(chat_id)
            self._log.warning(
                "%s: messages in chat %s ignored: it is not mapped to a group%s. Map it with:"
                " pynchy groups add NAME --channel %s --chat %s",
                self.channel,
                chat_id,
                f" ({about})" if about else "",
                self.channel,
                chat_id,
            )
        return group


# --- splitting ----------------------------------------------------------------------------


def cut_to_fit(
    text: str,
    limit: int,
    *,
    breaks: Sequence[str] = BREAKS,
    measure: Callable[[str], int] = len,
    lowest: float = 0.5,
    floor: int = 0,
) -> tuple[str, str]:
    """The longest start of `text` that measures at most `limit`, cut at the last of
    `breaks` (tried in order) found past `lowest` of it, else cut hard; and what follows
    the break. Never less than one character, so a caller always makes progress. `floor`:
    a break before this index is not taken (a prefix the caller put there)."""
    if measure(text) <= limit:
        return text, ""
    window = _fitting(text, limit, measure)
    while True:
        low = max(floor + 1, int(window * lowest))
        end, resume = window, window
        for sep in breaks:
            at = text.rfind(sep, low, window)
            if at > 0:
                end, resume = at, at + len(sep)
                break
        if end <= 1 or measure(text[:end]) <= limit:
            return text[:end], text[resume:]
        window = end * 3 // 4  # a start measured more than a longer one: look shorter


def _fitting(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """How many characters of text fit limit (at least one)."""
    if measure is len:
        return max(1, min(len(text), limit))
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def split_text(
    text: str,
    limit: int,
    *,
    breaks: Sequence[str] = BREAKS,
    measure: Callable[[str], int] = len,
    lowest: float = 0.5,
    fences: bool = True,
) -> list[str]:
    """`text` as messages that each measure at most `limit` (see cut_to_fit for where it
    is cut). With `fences`, a Markdown code block cut in two is closed at the end of one
    message and reopened, with its language, at the start of the next, so both render as
    code. Blank text gives no message."""
    if fences and limit < 20:
        raise ValueError("limit too small to close and reopen code fences")
    closing = "\n" + FENCE
    room = limit - measure(closing) if fences else limit
    pieces: list[str] = []
    rest, floor = text.strip("\n"), 0
    while measure(rest) > limit:
        piece, rest = cut_to_fit(
            rest, room, breaks=breaks, measure=measure, lowest=lowest, floor=floor
        )
        opened = _open_fence(piece) if fences else None
        floor = 0
        if opened is not None:
            if measure(opened) * 4 > limit:
                opened = FENCE  # a very long info string is not worth repeating
            piece += closing
            rest, floor = f"{opened}\n{rest}", len(opened) + 1
        pieces.append(piece)
    pieces.append(rest)
    return [p.strip("\n") for p in pieces if p.strip()]


def _open_fence(text: str) -> str | None:
    """The opening line of a code block still open at the end of text, or None."""
    opened = None
    for line in text.split("\n"):
        for _ in range(line.count(FENCE)):  # "```x```" opens and closes on one line
            if opened is not None:
                opened = None
            else:
                opened = line.strip() if line.lstrip().startswith(FENCE) else FENCE
    return opened


# --- typing -------------------------------------------------------------------------------


class TypingKeeper:
    """Keeps a platform's typing indicator on in a chat while an agent runs: `send(chat_id)`
    again every `every` seconds (platforms clear it after a few) until set(chat_id, False)
    or close(). A failed send is logged at debug level and tried again: typing is a
    courtesy and never fails a run. `chat_id in keeper`: is it kept typing."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[object]],
        every: float,
        *,
        log: logging.Logger | None = None,
        name: str = "typing",
    ):
        self._send = send
        self.every = every
        self._log = log or logging.getLogger("pynchy.channels")
        self._name = name
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, chat_id: object) -> bool:
        return chat_id in self._tasks

    def set(self, chat_id: str, active: bool) -> None:
        task = self._tasks.pop(chat_id, None)
        if task is not None:
            task.cancel()
        if active:
            self._tasks[chat_id] = asyncio.create_task(
                self._keep(chat_id), name=f"{self._name}-{chat_id}"
            )

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def _keep(self, chat_id: str) -> None:
        while True:
            try:
                await self._send(chat_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log.debug("%s in chat %s failed: %s", self._name, chat_id, exc)
            await asyncio.sleep(self.every)


# --- retrying -----------------------------------------------------------------------------


class Backoff:
    """Pauses between retries: `first` seconds, doubling up to `most`; with `jitter` (a
    fraction) each is shortened at random by up to that much, so clients that lost the
    same server do not all come back at once. reset() after a success."""

    def __init__(self, first: float = 0.5, most: float = 30.0, *, jitter: float = 0.0):
        self.first, self.most, self.jitter = first, most, jitter
        self.attempts = 0

    def delay(self, attempt: int) -> float:
        base = min(self.most, self.first * 2 ** min(attempt, 30))
        return base * (1 - random.uniform(0, self.jitter)) if self.jitter else base

    def next(self) -> float:
        """The pause before the next attempt; counts the attempt."""
        value = self.delay(self.attempts)
        self.attempts += 1
        return value

    def reset(self) -> None:
        self.attempts = 0

    async def wait(self, stop: asyncio.Event | None = None, seconds: float | None = None) -> bool:
        """Pause `seconds` (default: next()); True if `stop` was set first."""
        pause = self.next() if seconds is None else seconds
        if stop is None:
            await asyncio.sleep(pause)
            return False
        try:
            await asyncio.wait_for(stop.wait(), timeout=pause)
            return True
        except TimeoutError:
            return False


# --- secrets in logs ----------------------------------------------------------------------


class TokenRedactor(logging.Filter):
    """Replaces secrets with `<token>`: in any text (redact()) and, attached to loggers,
    in their records (an HTTP client logs request URLs, and some APIs put the token in
    the path). A filter sees the records of the logger it is attached to, not of its
    children: attach it to each logger that may print a secret."""

    def __init__(self, *secrets: str, mask: str = "<token>"):
        super().__init__()
        self.secrets = [s for s in secrets if s]
        self.mask = mask
        self._loggers: list[logging.Logger] = []

    def redact(self, value: object) -> str:
        text = str(value)
        for secret in self.secrets:
            text = text.replace(secret, self.mask)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True

    def attach(self, *names: str) -> TokenRedactor:
        for name in names:
            logger = logging.getLogger(name)
            logger.addFilter(self)
            self._loggers.append(logger)
        return self

    def detach(self) -> None:
        for logger in self._loggers:
            logger.removeFilter(self)
        self._loggers.clear()


# --- what was posted ------------------------------------------------------------------------


class SentRecord:
    """What a channel already posted, per reply key and part, so a retried send (pynchy
    sends a reply again with the same key after a crash) posts nothing twice, also after
    a restart; and the chats it heard from, to catch up after a reconnect. A small SQLite
    file; entries older than 30 days are dropped when it is opened."""

    KEEP_SECONDS = 30 * 24 * 3600

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma busy_timeout=5000")
        self._db.execute(
            "create table if not exists sent_parts (key text not null, part integer not null,"
            " chat_id text not null, message_id text not null, sent_at real not null,"
            " primary key (key, part))"
        )
        self._db.execute(
            "create table if not exists chats_seen (chat_id text primary key,"
            " seen_at real not null)"
        )
        self._db.execute(
            "delete from sent_parts where sent_at < ?", [time.time() - self.KEEP_SECONDS]
        )

    def posted(self, key: str, part: int) -> str | None:
        """The platform's id of the message posted for this part, if it was."""
        with self._lock:
            row = self._db.execute(
                "select message_id from sent_parts where key = ? and part = ?", [key, part]
            ).fetchone()
        return row[0] if row else None

    def record(self, key: str, part: int, chat_id: str, message_id: object) -> None:
        with self._lock:
            self._db.execute(
                "insert or ignore into sent_parts (key, part, chat_id, message_id, sent_at)"
                " values (?, ?, ?, ?, ?)",
                [key, part, str(chat_id), str(message_id), time.time()],
            )

    def remember_chat(self, chat_id: str) -> None:
        with self._lock:
            self._db.execute(
                "insert into chats_seen (chat_id, seen_at) values (?, ?)"
                " on conflict(chat_id) do update set seen_at = excluded.seen_at",
                [str(chat_id), time.time()],
            )

    def chats(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("select chat_id from chats_seen order by chat_id").fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
