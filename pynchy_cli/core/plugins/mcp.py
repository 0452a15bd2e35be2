"""MCP servers: what plugins and config.toml declare, and which groups may use them.

A plugin registers servers with

    from pynchy_cli import McpServer, hookimpl

    @hookimpl
    def pynchy_mcp_servers(register):
        register(McpServer("time", command=["uvx", "mcp-server-time"]))
        register("mail", mail_server)  # mail_server(settings) -> McpServer | None

(a factory is called with the Settings whenever a run's servers are worked out, so it can
read credentials from [plugin.NAME]; None means "not configured here": no server, no tools)
and a user declares them in config.toml:

    [mcp.git]
    command = ["uvx", "mcp-server-git"]
    groups = ["main"]                   # omit for every group
    risk = "write"                      # tier of tools without MCP annotations
    tiers = { git_commit = "external" } # per tool: wins over annotations
    flags = ["secret_data"]             # trifecta flags of every tool of the server
    tool_flags = { git_log = [] }       # per tool: replace what annotations imply
    # container = true or map_paths = true: how it sees /workspace (mcp_container, mcp_paths)
    # idle_stop = 300, shareable = true: how long it lives, and for whom (mcp_pool)

Each tool's tier comes from its MCP annotations (core.policy.tiers.mcp_rule).

A `[mcp.NAME]` table replaces a plugin's server of the same name; `enabled = false` turns
it off. The host runs the servers (core.plugins.mcp_host); their environment and headers,
credentials included, stay on the host. Agents see their tools as `mcp__SERVER__TOOL`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.policy.tiers import ToolRule, check_flags, check_tier, mcp_rule

SERVER_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_)){0,31}$")
PREFIX = "mcp__"


def check_server_name(name: Any) -> None:
    """ValueError unless `name` can be the SERVER part of mcp__SERVER__TOOL."""
    if not isinstance(name, str) or not SERVER_NAME_RE.match(name):
        raise ValueError(
            f"MCP server name {name!r} must be 1-32 letters, digits, - or _ (no double underscore)"
        )


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
    # Where it works on files (docs/mcp-skills-hooks.md, "Servers that see the workspace"):
    container: bool = False  # in its own container, the group's workspace at /workspace
    image: str | None = None  # container: its image; None: the agent image
    network: bool = False  # container: a network, if the group's profile allows one too
    map_paths: bool = False  # on the host, /workspace/... arguments mapped to the group folder
    idle_stop: float | None = None  # seconds unused before it stops; None: with its run
    shareable: bool = False  # one for every group (never with a workspace)

    def __post_init__(self) -> None:
        check_server_name(self.name)
        check_placement(self)
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
        if self.groups is not None and not (
            isinstance(self.groups, list | tuple) and all(isinstance(g, str) for g in self.groups)
        ):
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
            (self.container, self.image, self.network, self.map_paths, self.shareable),
        )

    @property
    def pooled(self) -> bool:
        """Kept running between runs (core.plugins.mcp_pool) rather than stopped with its run."""
        return self.container or self.map_paths or self.shareable or self.idle_stop is not None

    @property
    def sees_workspace(self) -> bool:
        return (self.container or self.map_paths) and not self.shareable

    def __repr__(self) -> str:  # never print env or headers: they may hold credentials
        where = " ".join(self.command) if self.command else self.url
        return f"McpServer({self.name!r}, {where!r}, risk={self.risk!r}, groups={self.groups!r})"


_FIELDS = {f.name for f in fields(McpServer)}
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_placement(server: McpServer) -> None:
    """ValueError for a combination of container, map_paths, shareable, ... that cannot work."""
    where = f"MCP server {server.name}"
    if server.container and server.map_paths:
        raise ValueError(f"{where}: give container or map_paths, not both")
    if (server.container or server.map_paths) and server.command is None:
        raise ValueError(f"{where}: container and map_paths need a command (not a url)")
    if server.map_paths and server.shareable:
        raise ValueError(
            f"{where}: a shareable server serves every group, so it cannot map one group's paths"
        )
    if not server.container and (server.image is not None or server.network):
        raise ValueError(f"{where}: image and network are for container = true")
    if server.idle_stop is not None and not (
        isinstance(server.idle_stop, int | float) and server.idle_stop > 0
    ):
        raise ValueError(f"{where}: idle_stop must be a positive number of seconds")
    bad = [k for k in server.env or {} if not _ENV_NAME_RE.match(str(k))]
    if server.container and bad:
        raise ValueError(f"{where}: env names must be letters, digits and _ ({bad[0]!r})")


@dataclass(frozen=True)
class ServerFactory:
    """A plugin's `register(name, factory)`: factory(settings) -> McpServer | None, made
    when a run's servers are worked out; None means the plugin is not configured here."""

    name: str
    factory: Callable[[Any], Any]
    plugin: str = "a plugin"  # who registered it, for warnings

    def __post_init__(self) -> None:
        check_server_name(self.name)

    def build(self, settings: Any) -> McpServer | None:
        made = self.factory(settings)
        if made is None:
            return None
        server = as_server(made, None if isinstance(made, McpServer) else self.name)
        if server.name != self.name:
            raise ValueError(f"its factory made a server named {server.name!r}")
        return server


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
    warnings about the declarations that are not valid. Plugins' factories are called here,
    except for names config.toml declares (it replaces or turns off theirs)."""
    servers: dict[str, McpServer] = {}
    warnings: list[str] = []
    configured = getattr(settings, "mcp", None) or {}
    for item in registered:
        server = _from_plugin(item, settings, configured, warnings)
        if server is not None:
            servers[server.name] = server
    for name, table in configured.items():
        data = table.model_dump() if hasattr(table, "model_dump") else dict(table)
        if data.pop("enabled", True) is False:
            servers.pop(name, None)
            continue
        try:
            servers[name] = as_server(data, name)
        except (TypeError, ValueError) as exc:
            warnings.append(f"[mcp.{name}] in config.toml: {exc}")
    return list(servers.values()), warnings


def _from_plugin(
    item: Any, settings: Any, configured: Any, warnings: list[str]
) -> McpServer | None:
    """What a plugin registered, as a server; None when its factory makes none, when
    config.toml declares the name, or (with a warning) when it is not valid."""
    if not isinstance(item, ServerFactory):
        try:
            return as_server(item)
        except (TypeError, ValueError) as exc:
            warnings.append(f"a plugin registered an invalid MCP server: {exc}")
            return None
    if item.name in configured:
        return None
    try:
        return item.build(settings)
    except Exception as exc:  # a plugin's factory must never stop a run
        why = exc.line() if isinstance(exc, PynchyError) else f"{type(exc).__name__}: {exc}"
        warnings.append(f"plugin {item.plugin}: MCP server {item.name} left out: {why}")
        return None


def servers_for_group(servers: list[McpServer], group: str) -> list[McpServer]:
    return [s for s in servers if s.allows(group)]
