"""Helpers for the cost ledger tests: config with accounts, runs inserted as if old."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def write_config(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text)


def account(name: str, provider: str, base_url: str, key: str | None = None, **extra: str) -> str:
    """An [accounts.NAME] table; `extra` values are TOML as written."""
    lines = [f"[accounts.{name}]", f'provider = "{provider}"', f'base_url = "{base_url}"']
    if key:
        lines.append(f'api_key = "{key}"')
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def query(home: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with sqlite3.connect(home / "pynchy.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(sql, params or [])]


def insert_run(
    home: Path,
    group: str,
    *,
    days_ago: float = 0,
    account: str | None = None,
    model: str = "anthropic:claude-sonnet-5-5",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost_usd: float | None = 0.0,
) -> str:
    """A finished run written straight into the runs table (an older day's spending)."""
    run_id = secrets.token_hex(4)
    started = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="microseconds")
    with sqlite3.connect(home / "pynchy.db") as db:
        group_id = db.execute("select id from groups where name = ?", [group]).fetchone()[0]
        db.execute(
            "insert into runs (id, group_id, status, model, account, input_tokens,"
            " output_tokens, cost_usd, started_at, finished_at)"
            " values (?, ?, 'succeeded', ?, ?, ?, ?, ?, ?, ?)",
            [run_id, group_id, model, account, input_tokens, output_tokens, cost_usd]
            + [started, started],
        )
    return run_id
