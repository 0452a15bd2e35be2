"""The hook specifications every plugin implements against (project name "pynchy").

Registration hooks take a `register` callback, so one plugin can add several things:

    from pynchy_cli import hookimpl

    @hookimpl
    def pynchy_channels(register):
        register("telegram", TelegramChannel.from_settings)

Lifecycle hooks observe, change or refuse an agent run. A hook that raises is reported and
skipped; it never crashes `serve`.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("pynchy")
hookimpl = pluggy.HookimplMarker("pynchy")


class PynchySpecs:
    # --- kinds of components -------------------------------------------------------------

    @hookspec
    def pynchy_runtimes(self, register: Any) -> None:
        """register(name, factory): factory(settings) -> Runtime (see core.runtimes.base)."""

    @hookspec
    def pynchy_channels(self, register: Any) -> None:
        """register(name, factory): factory(settings) -> Channel (see core.serve.channels).
        A channel reads its credentials on the host (environment or [plugins.NAME] in
        config.toml) and never passes them to containers."""

    @hookspec
    def pynchy_agent_cores(self, register: Any) -> None:
        """register(provider, factory): factory(choice, settings) -> AgentCore."""

    @hookspec
    def pynchy_mcp_servers(self, register: Any) -> None:
        """register(McpServer(...)): an MCP server the host runs for allowed groups."""

    @hookspec
    def pynchy_skills(self, register: Any) -> None:
        """register(path): a folder holding SKILL.md (name and description in front matter)."""

    @hookspec
    def pynchy_commands(self, app: Any) -> None:
        """Add Typer sub-apps or commands to the root `pynchy` CLI."""

    # --- agent lifecycle -----------------------------------------------------------------

    @hookspec
    def pynchy_before_run(self, run: Any) -> str | None:
        """Before a run starts. Return a reason to refuse it."""

    @hookspec
    def pynchy_before_tool(self, run: Any, tool: str, arguments: dict) -> Any:
        """Before a tool call. Return None to allow, a dict to replace the arguments,
        or a string: the reason it is refused."""

    @hookspec
    def pynchy_after_tool(self, run: Any, tool: str, arguments: dict, result: Any) -> None:
        """After a tool call, with its result (content, is_error)."""

    @hookspec
    def pynchy_after_run(self, run: Any, outcome: Any) -> None:
        """After a run ended, with its outcome."""

    @hookspec
    def pynchy_on_error(self, run: Any, error: str) -> None:
        """When a run fails."""
