"""What plugins and config.toml add to one agent run: MCP tools, skills and lifecycle hooks.

core.agent.run keeps one RunExtensions per run. It knows which extra tools the run has
(MCP tools and read_skill, all served by the host), checks their arguments and answers
calls the policy gate (core.policy.gate) allowed, and gives the run its lifecycle hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pynchy_cli.core.agent.host_tools import check_arguments
from pynchy_cli.core.plugins.lifecycle import Hooks, Report, acts_in_group
from pynchy_cli.core.plugins.mcp import declared_servers, servers_for_group
from pynchy_cli.core.plugins.mcp_container import McpPlace
from pynchy_cli.core.plugins.mcp_host import McpHost
from pynchy_cli.core.plugins.skills import READ_SKILL, find_skills, read_skill, read_skill_spec
from pynchy_cli.core.policy.tiers import ToolRule

log = logging.getLogger("pynchy.plugins")

ServerFilter = Callable[[str], bool]  # may this run use the MCP server of that name?


def load_plugins_safely(settings: Any) -> Any | None:
    """The configured plugins; None (with a warning) if loading them fails altogether."""
    from pynchy_cli.core.plugins.manager import plugins_for

    try:
        return plugins_for(settings)
    except Exception as exc:  # a broken plugin set must not stop runs
        log.warning("plugins not loaded: %s: %s", type(exc).__name__, exc)
        return None


class RunExtensions:
    def __init__(
        self,
        plugins: Any | None,
        settings: Any,
        paths: Any,
        group: Any,
        report: Report,
        allow_server: ServerFilter | None = None,
        network: bool = False,
        extra_servers: tuple[str, ...] = (),
    ):
        """`allow_server`: the group's security profile; servers it refuses never start.
        `network`: that profile allows a network (for MCP servers in containers).
        `extra_servers`: servers this run gets beside the group's (a periodic agent's
        mcp_servers), still only those the profile allows."""
        registry = getattr(plugins, "registry", None)
        servers, self.warnings = declared_servers(
            settings, list(getattr(registry, "mcp_servers", []))
        )
        missing = set(extra_servers) - {s.name for s in servers}
        self.warnings += [
            f"MCP server {name} is not declared or not available" for name in sorted(missing)
        ]
        offered = servers_for_group(servers, group.name)
        named = {s.name for s in offered}
        offered += [s for s in servers if s.name in extra_servers and s.name not in named]
        servers = [s for s in offered if not allow_server or allow_server(s.name)]
        place = McpPlace(group.name, group.path, settings, paths, network)
        self.mcp = McpHost(servers, paths.logs_dir, place)
        self.skills, skill_warnings = find_skills(
            list(getattr(registry, "skills", [])), paths.config_dir / "skills", group.path
        )
        self.warnings += skill_warnings
        pm = getattr(plugins, "pm", None)
        self.hooks = Hooks(pm, report, acts_in_group(settings, group.name))

    # --- tools -----------------------------------------------------------------------

    def skill_list(self) -> list[tuple[str, str]]:
        return [(s.name, s.description) for s in sorted(self.skills.values(), key=lambda s: s.name)]

    def static_specs(self) -> list[dict[str, Any]]:
        """Specs known without starting anything (read_skill when there are skills)."""
        return [read_skill_spec(self.skills)] if self.skills else []

    async def mcp_specs(self) -> list[dict[str, Any]]:
        """The MCP tools of the servers this group may use; warnings go to self.warnings."""
        specs = await self.mcp.list_tools() if self.mcp.servers else []
        self.warnings += self.mcp.warnings
        self.mcp.warnings = []
        return specs

    def take_warnings(self) -> list[str]:
        warnings, self.warnings = self.warnings, []
        return warnings

    def owns(self, name: str) -> bool:
        return name in self.mcp.tools or (name == READ_SKILL and bool(self.skills))

    def mcp_rules(self) -> dict[str, tuple[ToolRule, str]]:
        """The listed MCP tools' tiers and flags, with their servers (for the gate)."""
        return self.mcp.rules()

    def check(self, name: str, arguments: Any) -> str | None:
        """Why these arguments do not fit the tool's schema, or None."""
        if name in self.mcp.tools:
            return self.mcp.check(name, arguments)
        return check_arguments(read_skill_spec(self.skills), arguments)

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """(content, is_error) of an MCP tool or read_skill the gate allowed."""
        if name in self.mcp.tools:
            return await self.mcp.call(name, arguments)
        return read_skill(self.skills, **arguments)

    async def aclose(self) -> None:
        await self.mcp.aclose()
