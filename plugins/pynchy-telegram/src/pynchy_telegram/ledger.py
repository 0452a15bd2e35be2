"""What was already posted, per reply key and part: a retried send posts nothing twice.

pynchy calls `send` with a key unique per reply and may call it again with the same key
(after a crash, before it could mark the reply delivered). A long reply is several Telegram
messages; each part is recorded as soon as Telegram accepted it, in a small SQLite file in
pynchy's data folder, so a retry resumes with the first part not yet posted.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

KEEP = timedelta(days=30)


class SentLedger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma busy_timeout=5000")
        self._db.execute(
            "create table if not exists sent (key text not null, part integer not null,"
            " chat_id text not null, message_id integer, sent_at text not null,"
            " primary key (key, part))"
        )
        cutoff = (datetime.now(UTC) - KEEP).isoformat()
        self._db.execute("delete from sent where sent_at < ?", [cutoff])

    def sent(self, key: str, part: int) -> bool:
        with self._lock:
            row = self._db.execute(
                "select 1 from sent where key = ? and part = ?", [key, part]
            ).fetchone()
        return row is not None

    def record(self, key: str, part: int, chat_id: str, message_id: int | None) -> None:
        with self._lock:
            self._db.execute(
                "insert or ignore into sent (key, part, chat_id, message_id, sent_at)"
                " values (?, ?, ?, ?, ?)",
                [key, part, chat_id, message_id, datetime.now(UTC).isoformat()],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
