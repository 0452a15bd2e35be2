"""What was posted for which reply key, so a retried send posts nothing twice.

A small SQLite file in pynchy's data folder (DATA/plugins/slack/sent.db): one row per
(key, part) with the posted message's ts, committed as soon as Slack confirms the post.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

KEEP_SECONDS = 30 * 24 * 3600


class SentLog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute(
            "create table if not exists sent (key text not null, part integer not null,"
            " chat text not null, ts text not null, at real not null,"
            " primary key (key, part))"
        )
        self.db.execute("delete from sent where at < ?", [time.time() - KEEP_SECONDS])

    def get(self, key: str, part: int) -> str | None:
        row = self.db.execute(
            "select ts from sent where key = ? and part = ?", [key, part]
        ).fetchone()
        return row[0] if row else None

    def add(self, key: str, part: int, chat: str, ts: str) -> None:
        self.db.execute(
            "insert or ignore into sent (key, part, chat, ts, at) values (?, ?, ?, ?, ?)",
            [key, part, chat, ts, time.time()],
        )

    def close(self) -> None:
        self.db.close()
