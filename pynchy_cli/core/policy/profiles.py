"""Security profiles: what the agents of a group may do. Each group has one (`pynchy
groups add/set G --profile NAME`, `default` unless given).

Built in:

    default   every tool; external and destructive tools wait for a person; modest rate
              limits; tasks an agent schedules fire at most every 5 minutes
    trusted   only destructive tools wait for a person (external ones run, audited);
              higher limits; tasks every minute at most
    locked    read tools only (no bash, no file writes, no messages, no tasks); no network

A `[profiles.NAME]` table in config.toml adjusts the built-in of that name or defines a
new profile that starts from `extends` (default: `default`). Lists replace, tables
(tiers, rate_limits) are merged, the config's keys winning.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from typing import Any

from pynchy_cli.core.errors import UsageError

DEFAULT = "default"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    tools: tuple[str, ...] = ("*",)  # allowed tool names or patterns
    mcp_servers: tuple[str, ...] = ("*",)  # allowed MCP servers
    tiers: dict[str, str] = field(default_factory=dict)  # tool name or pattern -> tier
    ask: tuple[str, ...] = ("external", "destructive")  # tiers a person approves
    refuse: tuple[str, ...] = ()  # tiers never offered nor run
    rate_limits: dict[str, str] = field(default_factory=dict)  # tool pattern -> "20/minute"
    network: bool = True  # groups with this profile may have --network
    min_schedule_interval: str = "5m"
    max_active_tasks: int = 20

    def tier_override(self, tool: str) -> str | None:
        if tool in self.tiers:
            return self.tiers[tool]
        return next((t for p, t in self.tiers.items() if fnmatch.fnmatchcase(tool, p)), None)

    def allows_server(self, server: str) -> bool:
        return any(fnmatch.fnmatchcase(server, p) for p in self.mcp_servers)

    def refusal(self, tool: str, tier: str, server: str | None = None) -> str | None:
        """Why this profile does not allow the tool at all, or None."""
        if not any(fnmatch.fnmatchcase(tool, p) for p in self.tools):
            return f"the security profile {self.name} does not allow {tool}"
        if server is not None and not self.allows_server(server):
            return f"the security profile {self.name} does not allow the MCP server {server}"
        if tier in self.refuse:
            return f"the security profile {self.name} does not allow {tier} tools like {tool}"
        return None

    def watches(self, tool: str) -> bool:
        """True when the profile has a rule for this tool beyond its built-in tier: the
        container's local tools are then checked with the host before they run."""
        return self.tier_override(tool) is not None or any(
            fnmatch.fnmatchcase(tool, p) for p in self.rate_limits
        )


BUILTIN: dict[str, Profile] = {
    "default": Profile(
        "default",
        "every tool; external and destructive tools wait for a person",
        rate_limits={"send_message": "20/minute", "schedule_task": "10/hour"},
    ),
    "trusted": Profile(
        "trusted",
        "external tools run without asking; destructive ones wait for a person",
        ask=("destructive",),
        rate_limits={"send_message": "60/minute", "schedule_task": "30/hour"},
        min_schedule_interval="1m",
        max_active_tasks=100,
    ),
    "locked": Profile(
        "locked",
        "read tools only, no network",
        ask=("external", "destructive"),
        refuse=("write", "external", "destructive"),
        rate_limits={"*": "300/hour"},
        network=False,
        min_schedule_interval="1h",
        max_active_tasks=0,
    ),
}


def _configured(settings: Any) -> dict[str, Any]:
    return dict(getattr(settings, "profiles", None) or {})


def profile_names(settings: Any) -> list[str]:
    return sorted({*BUILTIN, *_configured(settings)})


def get_profile(settings: Any, name: str, _seen: tuple[str, ...] = ()) -> Profile:
    """The profile of that name: a built-in adjusted by config, or one config defines."""
    table = _configured(settings).get(name)
    if table is None:
        if name in BUILTIN:
            return BUILTIN[name]
        raise UsageError(
            f"no security profile {name!r}",
            f"Use one of {', '.join(profile_names(settings))}, or add [profiles.{name}]"
            " to config.toml",
        )
    given = table.model_dump(exclude_none=True) if hasattr(table, "model_dump") else dict(table)
    parent_name = given.pop("extends", None) or DEFAULT
    if name in BUILTIN:
        base = BUILTIN[name]
    elif parent_name in (*_seen, name):
        loop = " -> ".join((*_seen, name, parent_name))
        raise UsageError(f"security profiles extend each other: {loop}", "Fix [profiles] in config")
    else:
        base = get_profile(settings, parent_name, (*_seen, name))
    changes: dict[str, Any] = {"name": name}
    for key, value in given.items():
        if key in ("tiers", "rate_limits"):
            value = {**getattr(base, key), **value}
        elif isinstance(value, list):
            value = tuple(value)
        changes[key] = value
    return replace(base, **changes)


def check_assignment(settings: Any, name: str, network: bool) -> Profile:
    """The profile a group is being given, refusing --network where it forbids it."""
    profile = get_profile(settings, name)
    if network and not profile.network:
        raise UsageError(
            f"the security profile {name} does not allow --network",
            "Leave out --network, or choose a profile that allows it",
        )
    return profile


def profile_for_run(settings: Any, name: str | None) -> tuple[Profile, str | None]:
    """(profile, warning) for a run: a group whose profile has gone from config gets the
    strictest built-in, `locked`, with a warning."""
    try:
        return get_profile(settings, name or DEFAULT), None
    except UsageError as exc:
        return BUILTIN["locked"], f"{exc.message}; this run uses the profile locked"
