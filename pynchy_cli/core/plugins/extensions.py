"""What plugins and config.toml add to one agent run: MCP tools, skills and lifecycle hooks.

core.agent.run keeps one RunExtensions per run. It knows which extra tools the run has
(MCP tools and read_skill, all served by the host), answers calls to them with the
security policy applied, and gives the run its lifecycle hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pynchy_cli.core.agent.host_tools import check_arguments
from pynchy_cli.core.plugins.lifecycle import Hooks, Report
from pynchy_cli.core.plugins.mcp import declared_servers, servers_for_group
from pynchy_cli.core.plugins.mcp_host import Approve, McpHost
from pynchy_cli.core.plugins.skills import READ_SKILL, find_skills, read_skill, read_skill_spec

log = logging.getLogger("pynchy.plugins")

Audit = Callable[..., None]  # audit(tool, decision, **detail)


def load_plugins_safely(settings: Any) -> Any | None:
    """The configured plugins; None (with a warning) if loading them fails altogether."""
    from pynchy_cli.core.plugins.manager import plugins_for

    try:
        return plugins_for(settings)
    except Exception as exc:  # a broken plugin set must not stop runs
        log.warning("plugins not loaded: %s: %s", type(exc).__name__, exc)
        return None


class RunExtensions:
    def __init__(self, plugins: Any | None, settings: Any, paths: Any, group: Any, report: Report):
        registry = getattr(plugins, "registry", None)
        servers, self.warnings = declared_servers(
            settings, list(getattr(registry, "mcp_servers", []))
        )
        self.mcp = McpHost(servers_for_group(servers, group.name), paths.logs_dir)
        self.skills, skill_warnings = find_skills(
            list(getattr(registry, "skills", [])), paths.config_dir / "skills", group.path
        )
        self.warnings += skill_warnings
        self.hooks = Hooks(getattr(plugins, "pm", None), report)

    # --- tools -----------------------------------------------------------------------

    def skill_list(self) -> list[tuple[str, str]]:
        return [(s.name, s.description) for s in sorted(self.skills.values(), key=lambda s: s.name)]

    def static_specs(self) -> list[dict[str, Any]]:
        """Specs known without starting anything (read_skill when there are skills)."""
        return [read_skill_spec(self.skills)] if self.skills else []

    async def mcp_specs(self) -> list[dict[str, Any]]:
        """The MCP tools of the servers this group may use; warnings go to self.warnings."""
        if not self.mcp.servers:
            return []
        specs = await self.mcp.list_tools()
        self.warnings += self.mcp.warnings
        self.mcp.warnings = []
        return specs

    def take_warnings(self) -> list[str]:
        warnings, self.warnings = self.warnings, []
        return warnings

    def owns(self, name: str) -> bool:
        return name in self.mcp.tools or (name == READ_SKILL and bool(self.skills))

    async def call(
        self, name: str, arguments: Any, audit: Audit, approve: Approve | None = None
    ) -> tuple[str, bool]:
        """(content, is_error) of an MCP tool or read_skill. `approve`: asks a person about
        MCP tools of the external and destructive tiers (refused without it)."""
        if name in self.mcp.tools:
            return await self.mcp.call(name, arguments, audit, approve)
        problem = check_arguments(read_skill_spec(self.skills), arguments)
        if problem:
            audit(name, "refused", reason=problem)
            return problem, True
        audit(name, "allowed", risk="read", arguments=arguments)
        return read_skill(self.skills, **arguments)

    async def aclose(self) -> None:
        await self.mcp.aclose()
