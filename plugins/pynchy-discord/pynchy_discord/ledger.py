"""The plugin's own small state, in one SQLite file under pynchy's data folder:

- `sent`: every reply part posted, by key (pynchy's reply key + "#" + part number), so a
  retried `send` with the same key posts nothing again, also after a restart;
- `chats`: the chats messages came from, so a fresh connection knows where to catch up.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

KEEP_SENT_DAYS = 30


class Ledger:
    def __init__(self, path: Path):
        self.path = path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("pragma journal_mode=wal")
            db.execute("pragma busy_timeout=5000")
            db.execute(
                "create table if not exists sent (key text primary key, chat_id text not null,"
                " message_id text not null, sent_at real not null)"
            )
            db.execute(
                "create table if not exists chats (chat_id text primary key, seen_at real not null)"
            )
            db.execute("delete from sent where sent_at < ?", [time.time() - KEEP_SENT_DAYS * 86400])
            self._db = db
        return self._db

    def sent_id(self, key: str) -> str | None:
        row = self.db.execute("select message_id from sent where key = ?", [key]).fetchone()
        return row[0] if row else None

    def record_sent(self, key: str, chat_id: str, message_id: str) -> None:
        self.db.execute(
            "insert or ignore into sent (key, chat_id, message_id, sent_at) values (?, ?, ?, ?)",
            [key, chat_id, message_id, time.time()],
        )

    def remember_chat(self, chat_id: str) -> None:
        self.db.execute(
            "insert into chats (chat_id, seen_at) values (?, ?)"
            " on conflict(chat_id) do update set seen_at = excluded.seen_at",
            [chat_id, time.time()],
        )

    def chats(self) -> list[str]:
        return [r[0] for r in self.db.execute("select chat_id from chats order by chat_id")]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
