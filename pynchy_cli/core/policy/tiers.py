"""The tier table: how risky each tool is, and the lethal-trifecta flags it carries.

Tiers, least to most risky:

    read         runs
    write        runs, audited, subject to rate limits
    external     reaches the world outside: a person approves (in the default profile)
    destructive  may lose data: a person approves

Flags (the lethal trifecta): `untrusted_input` (reads content anyone could have written),
`secret_data` (touches secrets), `public_sink` (writes somewhere others can read). After
a run has called an untrusted_input or secret_data tool, a public_sink tool needs a person.

pynchy's own tools have fixed tiers below; a later host or plugin tool registers its own
with `register_tool`. MCP tools get theirs from their MCP annotations (`mcp_rule`);
unknown means the strictest tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIERS = ("read", "write", "external", "destructive")
FLAGS = ("untrusted_input", "secret_data", "public_sink")
TAINTING = ("untrusted_input", "secret_data")


@dataclass(frozen=True)
class ToolRule:
    tier: str
    flags: frozenset[str] = frozenset()
    source: str = "built-in"  # where the tier came from, for the audit and the docs

    @property
    def taint(self) -> str | None:
        """The flag that taints a run calling this tool, if any."""
        return next((f for f in TAINTING if f in self.flags), None)

    @property
    def public_sink(self) -> bool:
        return "public_sink" in self.flags


# pynchy's tools: the local ones act inside the container, the others on the host.
TOOL_RULES: dict[str, ToolRule] = {
    "read_file": ToolRule("read"),
    "list_files": ToolRule("read"),
    "grep": ToolRule("read"),
    "write_file": ToolRule("write"),
    "edit_file": ToolRule("write"),
    "bash": ToolRule("write"),  # only inside the container, which has no network by default
    "send_message": ToolRule("write"),  # to the group's own chat
    "schedule_task": ToolRule("write"),
    "list_tasks": ToolRule("read"),
    "pause_task": ToolRule("write"),
    "resume_task": ToolRule("write"),
    "cancel_task": ToolRule("write"),
    "reset_context": ToolRule("write"),
    "read_skill": ToolRule("read"),
}

STRICTEST = ToolRule("destructive", source="unknown")


def check_tier(tier: Any, where: str) -> str:
    if tier not in TIERS:
        raise ValueError(f"{where}: tier {tier!r} must be one of {', '.join(TIERS)}")
    return tier


def check_flags(flags: Any, where: str) -> frozenset[str]:
    if not isinstance(flags, list | tuple | set | frozenset) or not all(f in FLAGS for f in flags):
        raise ValueError(f"{where}: flags must be a list of {', '.join(FLAGS)}")
    return frozenset(flags)


def register_tool(name: str, tier: str, *flags: str) -> None:
    """Give a host or plugin tool its tier and flags (call it where the tool is defined)."""
    TOOL_RULES[name] = ToolRule(check_tier(tier, name), check_flags(list(flags), name))


@dataclass(frozen=True)
class Annotations:
    """An MCP tool's behaviour hints, None where the server left one out."""

    read_only: bool | None = None
    destructive: bool | None = None
    open_world: bool | None = None

    @classmethod
    def from_sdk(cls, annotations: Any) -> Annotations | None:
        """From the SDK's ToolAnnotations (mcp 2.x: snake_case fields); None when the tool
        carries no hint at all (a title alone says nothing about risk)."""
        if annotations is None:
            return None
        hints = cls(
            read_only=getattr(annotations, "read_only_hint", None),
            destructive=getattr(annotations, "destructive_hint", None),
            open_world=getattr(annotations, "open_world_hint", None),
        )
        return None if hints == cls() else hints

    def tier(self) -> str:
        # The MCP spec's defaults: readOnlyHint false, destructiveHint true, openWorldHint
        # true; destructiveHint and openWorldHint speak only of tools that are not read-only.
        if self.read_only:
            return "read"
        if self.destructive is not False:
            return "destructive"
        if self.open_world is not False:
            return "external"
        return "write"

    def flags(self) -> frozenset[str]:
        """Trifecta flags the hints imply: a read-only tool of the open world reads
        untrusted content; a writing one writes where others can read."""
        if self.open_world is False:
            return frozenset()
        return frozenset({"untrusted_input" if self.read_only else "public_sink"})


def mcp_rule(
    tool: str,
    annotations: Annotations | None,
    *,
    risk: str | None = None,
    tiers: dict[str, str] | None = None,
    flags: list[str] | tuple[str, ...] = (),
    tool_flags: dict[str, list[str]] | None = None,
) -> ToolRule:
    """The rule of one MCP tool (`tool`: the name its server knows). Its tier: the server
    config's per-tool tier, else its annotations, else the server's declared `risk`, else
    destructive. Its flags: the server's, plus the tool's own from config (which replace
    what the annotations imply) or else the annotations'."""
    if tiers and tool in tiers:
        tier, source = tiers[tool], "config"
    elif annotations is not None:
        tier, source = annotations.tier(), "annotations"
    elif risk is not None:
        tier, source = risk, "server risk"
    else:
        tier, source = STRICTEST.tier, "unknown"
    own = (tool_flags or {}).get(tool)
    implied = annotations.flags() if annotations is not None else frozenset()
    chosen = frozenset(own) if own is not None else implied
    return ToolRule(tier, frozenset(flags) | chosen, source)
