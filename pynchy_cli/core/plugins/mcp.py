"""MCP servers: what plugins and config.toml declare, and which groups may use them.

A plugin registers servers with

    from pynchy_cli import McpServer, hookimpl

    @hookimpl
    def pynchy_mcp_servers(register):
        register(McpServer("time", command=["uvx", "mcp-server-time"]))

and a user declares them in config.toml:

    [mcp.git]
    command = ["uvx", "mcp-server-git"]
    groups = ["main"]                   # omit for every group
    risk = "write"                      # tier of tools without MCP annotations
    tiers = { git_commit = "external" } # per tool: wins over annotations
    flags = ["secret_data"]             # trifecta flags of every tool of the server
    tool_flags = { git_log = [] }       # per tool: replace what annotations imply

Each tool's tier comes from its MCP annotations (core.policy.tiers.mcp_rule).

A `[mcp.NAME]` table replaces a plugin's server of the same name; `enabled = false` turns
it off. The host runs the servers (core.plugins.mcp_host); their environment and headers,
credentials included, stay on the host. Agents see their tools as `mcp__SERVER__TOOL`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from pynchy_cli.core.policy.tiers import ToolRule, check_flags, check_tier, mcp_rule

SERVER_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_)){0,31}$")
PREFIX = "mcp__"


@dataclass
class McpServer:
    name: str
    command: list[str] | None = None  # stdio: the program and its arguments
    url: str | None = None  # streamable HTTP endpoint, e.g. http://127.0.0.1:8000/mcp
    env: dict[str, str] = field(default_factory=dict)  # stdio: extra environment (host only)
    groups: list[str] | None = None  # groups whose agents see its tools; None: every group
    risk: str | None = None  # tier of tools without annotations; None: destructive
    description: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # HTTP: e.g. Authorization
    cwd: str | None = None  # stdio: working folder of the server process
    timeout: float = 120.0  # seconds one tool call may take
    tiers: dict[str, str] = field(default_factory=dict)  # tool -> tier, wins over annotations
    flags: list[str] = field(default_factory=list)  # trifecta flags of every tool
    tool_flags: dict[str, list[str]] = field(default_factory=dict)  # tool -> its own flags

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not SERVER_NAME_RE.match(self.name):
            raise ValueError(
                f"MCP server name {self.name!r} must be 1-32 letters, digits, - or _"
                " (no double underscore)"
            )
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name}: give either command or url")
        if self.command is not None and (
            not isinstance(self.command, list)
            or not self.command
            or not all(isinstance(part, str) and part for part in self.command)
        ):
            raise ValueError(f"MCP server {self.name}: command must be a non-empty list of words")
        if self.url is not None and not re.match(r"^https?://", str(self.url)):
            raise ValueError(f"MCP server {self.name}: url must start with http:// or https://")
        where = f"MCP server {self.name}"
        if self.risk is not None:
            check_tier(self.risk, f"{where}: risk")
        self.tiers = {
            str(k): check_tier(v, f"{where}: tiers.{k}") for k, v in dict(self.tiers or {}).items()
        }
        self.flags = sorted(check_flags(self.flags or [], f"{where}: flags"))
        self.tool_flags = {
            str(k): sorted(check_flags(v, f"{where}: tool_flags.{k}"))
            for k, v in dict(self.tool_flags or {}).items()
        }
        if self.groups is not None and not all(isinstance(g, str) for g in self.groups):
            raise ValueError(f"MCP server {self.name}: groups must be a list of group names")
        if not (isinstance(self.timeout, int | float) and self.timeout > 0):
            raise ValueError(f"MCP server {self.name}: timeout must be a positive number")
        self.env = {str(k): str(v) for k, v in dict(self.env or {}).items()}
        self.headers = {str(k): str(v) for k, v in dict(self.headers or {}).items()}

    def rule(self, tool: str, annotations: Any) -> ToolRule:
        """The tier and flags of one of this server's tools (`annotations`: its
        core.policy.tiers.Annotations, None when it carries none)."""
        return mcp_rule(
            tool,
            annotations,
            risk=self.risk,
            tiers=self.tiers,
            flags=self.flags,
            tool_flags=self.tool_flags,
        )

    def allows(self, group: str) -> bool:
        return self.groups is None or group in self.groups

    def identity(self) -> tuple[Any, ...]:
        """Everything that decides what the server is (used to cache its tool list)."""
        return (
            self.name,
            tuple(self.command or ()),
            self.url,
            tuple(sorted(self.env.items())),
            tuple(sorted(self.headers.items())),
            self.cwd,
        )

    def __repr__(self) -> str:  # never print env or headers: they may hold credentials
        where = " ".join(self.command) if self.command else self.url
        return f"McpServer({self.name!r}, {where!r}, risk={self.risk!r}, groups={self.groups!r})"


_FIELDS = {f.name for f in fields(McpServer)}


def as_server(obj: Any, name: str | None = None) -> McpServer:
    """An McpServer from what a plugin registered (an McpServer or a dict of its fields)."""
    if isinstance(obj, McpServer):
        return obj
    if isinstance(obj, dict):
        data = {k: v for k, v in obj.items() if k in _FIELDS}
        unknown = sorted(set(obj) - _FIELDS - {"enabled"})
        if unknown:
            raise ValueError(f"unknown MCP server fields: {', '.join(unknown)}")
        if name is not None:
            data["name"] = name
        return McpServer(**data)
    raise ValueError(f"not an MCP server: {type(obj).__name__}")


def tool_name(server: str, tool: str) -> str:
    return f"{PREFIX}{server}__{tool}"


def declared_servers(settings: Any, registered: list[Any]) -> tuple[list[McpServer], list[str]]:
    """Every declared server (plugins first, then config.toml, which wins on a name), and
    warnings about the declarations that are not valid."""
    servers: dict[str, McpServer] = {}
    warnings: list[str] = []
    for item in registered:
        try:
            server = as_server(item)
        except (TypeError, ValueError) as exc:
            warnings.append(f"a plugin registered an invalid MCP server: {exc}")
            continue
        servers[server.name] = server
    for name, table in (getattr(settings, "mcp", None) or {}).items():
        data = table.model_dump() if hasattr(table, "model_dump") else dict(table)
        if data.pop("enabled", True) is False:
            servers.pop(name, None)
            continue
        try:
            servers[name] = as_server(data, name)
        except (TypeError, ValueError) as exc:
            warnings.append(f"[mcp.{name}] in config.toml: {exc}")
    return list(servers.values()), warnings


def servers_for_group(servers: list[McpServer], group: str) -> list[McpServer]:
    return [s for s in servers if s.allows(group)]
