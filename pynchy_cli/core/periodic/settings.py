"""`[periodic.NAME]` in config.toml: a periodic agent's definition, or the part of a shipped
one it overrides (every key optional here; load_periodic checks what a whole one needs)."""

from __future__ import annotations

import re

from croniter import croniter
from pydantic import BaseModel, Field, field_validator, model_validator

PERIODIC_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class PeriodicSettings(BaseModel):
    model_config = {"extra": "forbid"}

    schedule: str | None = Field(None, description='cron, local time: "0 7 * * *"')
    group: str | None = None  # the group it runs in and reports to
    prompt: str | None = None
    prompt_file: str | None = None  # relative to the config folder
    model: str | None = None
    account: str | None = None
    profile: str | None = None  # a security profile ([profiles.NAME] or built-in)
    budget: float | None = Field(None, gt=0, description="USD a day its runs may spend")
    enabled: bool | None = None
    mcp_servers: list[str] | None = None
    description: str | None = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not is_cron(value):
            raise ValueError(f'{value!r} is not a cron expression: five fields, e.g. "0 7 * * *"')
        return value

    @model_validator(mode="after")
    def _one_prompt(self) -> PeriodicSettings:
        if self.prompt is not None and self.prompt_file is not None:
            raise ValueError("give prompt or prompt_file, not both")
        return self


def is_cron(text: str) -> bool:
    """Five fields (minute hour day month weekday) or @hourly/@daily/...: what crontab takes."""
    fields = text.split()
    if len(fields) == 1 and fields[0].startswith("@"):
        return croniter.is_valid(fields[0])
    return len(fields) == 5 and croniter.is_valid(text)
