"""[logs] in config.toml: how much of the structured session logs (core.logs) is kept."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LogSettings(BaseModel):
    model_config = {"extra": "forbid"}

    enabled: bool = Field(True, description="write the per-session JSONL logs at all")
    max_file_bytes: int = Field(
        5_000_000, ge=10_000, description="size of one JSONL file before it is rotated"
    )
    file_backups: int = Field(2, ge=0, le=20, description="rotated files kept per JSONL file")
    keep_days: int = Field(14, ge=1, description="session folders older than this are removed")
    keep_sessions: int = Field(500, ge=1, description="at most this many session folders kept")
    max_value_chars: int = Field(
        2_000, ge=100, description="a longer string in an event is cut to this many characters"
    )
