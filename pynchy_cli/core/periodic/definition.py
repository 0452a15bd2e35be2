"""A periodic agent: what runs, where it reports, and on which schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Source = Literal["shipped", "config"]


@dataclass
class PeriodicAgent:
    name: str
    schedule: str  # cron expression, local time (as in crontab)
    group: str  # the group it runs in; its channel gets the result
    prompt: str  # prompt_file is resolved to its text on load
    model: str | None = None
    account: str | None = None
    profile: str | None = None  # security profile; None: the group's
    budget: float | None = None  # USD a day its runs may spend; None: only the other caps
    enabled: bool = False
    mcp_servers: list[str] = field(default_factory=list)
    description: str = ""
    source: Source = "config"
