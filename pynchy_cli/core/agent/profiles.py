"""Agent profiles: named agents that the delegate and handoff tools can call on.

A profile is its own model and account, the tools it may use, a system prompt, a security
profile and its own delegation limits. Profiles come from config (`[agents.NAME]`) and
from plugins (`pynchy_agents(register)`: `register(name, AgentProfile(...))`); config
wins for a name both give. A run of a profile uses the group's workspace; whatever the
profile leaves out is the group's (model, account, security profile).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynchy_cli.core.errors import ConfigError

_MAX_PROMPT = 50_000  # characters of a profile's system prompt


@dataclass(frozen=True)
class AgentProfile:
    """An agent that delegate and handoff can name. Every field is optional."""

    description: str = ""  # what it is good for: shown to the agents that may call it
    model: str | None = None  # e.g. anthropic:claude-opus-4-1; None: the group's
    account: str | None = None  # an [accounts.X]; None: the group's
    tools: tuple[str, ...] | None = None  # names or patterns it may use; None: all offered
    system_prompt: str = ""  # added to pynchy's own system prompt
    system_prompt_file: str | None = None  # read on the host when the agent runs
    security_profile: str | None = None  # a [profiles.X]; None: the group's
    max_depth: int | None = None  # levels it may delegate below itself; None: [limits]
    max_children: int | None = None  # delegate calls per run of it; None: [limits]
    ask: bool = False  # a person approves each delegate or handoff to it
    groups: tuple[str, ...] | None = None  # groups that may use it; None: every group
    name: str = ""  # filled in from the name it is registered under

    def refusal(self, tool: str) -> str | None:
        """Why this agent may not use the tool, or None."""
        if self.tools is None or any(fnmatch.fnmatchcase(tool, p) for p in self.tools):
            return None
        return f"the agent {self.name} does not use {tool}"

    def prompt_text(self) -> str:
        """Its system prompt; ConfigError when its file cannot be read."""
        if not self.system_prompt_file:
            return self.system_prompt[:_MAX_PROMPT]
        path = Path(self.system_prompt_file).expanduser()
        try:
            return path.read_text(encoding="utf-8")[:_MAX_PROMPT]
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"agent {self.name}: cannot read its system_prompt_file {path} ({reason})",
                f"Fix system_prompt_file in [agents.{self.name}]",
            ) from None

    def with_name(self, name: str) -> AgentProfile:
        """A copy under its registered name, lists made tuples (plugins may pass lists)."""
        tools = tuple(self.tools) if self.tools is not None else None
        groups = tuple(self.groups) if self.groups is not None else None
        return dataclasses.replace(self, name=name, tools=tools, groups=groups)


def _from_config(name: str, table: Any, config_dir: Path | None) -> AgentProfile:
    data = table.model_dump() if hasattr(table, "model_dump") else dict(table)
    prompt_file = data.pop("system_prompt_file", None)
    if prompt_file and config_dir is not None and not Path(prompt_file).expanduser().is_absolute():
        prompt_file = str(config_dir / prompt_file)
    data["system_prompt"] = data.get("system_prompt") or ""
    return AgentProfile(**data, system_prompt_file=prompt_file).with_name(name)


def agent_profiles(
    settings: Any, plugins: Any, config_dir: Path | None = None, group: str | None = None
) -> dict[str, AgentProfile]:
    """Every agent profile by name (plugins', then config's over them); with `group`,
    only those that group may use."""
    found: dict[str, AgentProfile] = {}
    registry = getattr(plugins, "registry", None)
    for name, profile in (getattr(registry, "agents", None) or {}).items():
        found[name] = profile.with_name(name)
    for name, table in (getattr(settings, "agents", None) or {}).items():
        found[name] = _from_config(name, table, config_dir)
    if group is None:
        return dict(sorted(found.items()))
    return {n: p for n, p in sorted(found.items()) if p.groups is None or group in p.groups}


def with_profile(group: Any, profile: AgentProfile | None) -> Any:
    """The group as a run of this agent sees it: the agent's account and security
    profile in place of the group's. An agent with its own model does not take the
    group's account (it may be another provider's)."""
    if profile is None:
        return group
    account = profile.account or (None if profile.model else group.account)
    return dataclasses.replace(
        group, account=account, profile=profile.security_profile or group.profile
    )


def listing(profiles: dict[str, AgentProfile]) -> str:
    """One line per profile, for the tools' descriptions."""
    return "\n".join(
        f"- {p.name}: {p.description or '(no description)'}" for p in profiles.values()
    )
