"""The hook specifications every plugin implements against (project name "pynchy").

Registration hooks take a `register` callback, so one plugin can add several things:

    from pynchy_cli import hookimpl

    @hookimpl
    def pynchy_channels(register):
        register("telegram", TelegramChannel.from_settings)

A plugin's settings are the table `[plugin.NAME]` of config.toml: factories get the
Settings and read `settings.plugin.get("NAME", {})`.

Lifecycle hooks observe, change or refuse an agent run. A hook that raises is reported and
skipped; it never crashes `serve`. `pynchy_doctor` lets a plugin say, offline, what keeps
its components from working; `pynchy doctor` shows each Problem with its fix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, overload

import pluggy

if TYPE_CHECKING:  # none of these import the plugin manager: no cycle
    from pynchy_cli.core.agent.profiles import AgentProfile
    from pynchy_cli.core.agent_cores.base import AgentCore
    from pynchy_cli.core.config import Settings
    from pynchy_cli.core.plugins.lifecycle import RunInfo, RunOutcome, ToolResult
    from pynchy_cli.core.plugins.mcp import McpServer
    from pynchy_cli.core.runtimes.base import Runtime
    from pynchy_cli.core.serve.channels import Channel

hookspec = pluggy.HookspecMarker("pynchy")
hookimpl = pluggy.HookimplMarker("pynchy")


class ChosenModel(Protocol):
    """What an agent core factory learns of the model asked for (a ModelChoice):
    `--model PROVIDER:NAME` gives provider and name; account is the [accounts.X] used."""

    provider: str
    name: str
    account: str | None


class CommandApp(Protocol):
    """pynchy's root Typer app, as pynchy_commands sees it (core never imports typer)."""

    def add_typer(self, typer_instance: Any, *args: Any, **kwargs: Any) -> None: ...

    def command(self, *args: Any, **kwargs: Any) -> Callable[..., Any]: ...


# factory(settings) -> component; raise ConfigError (one line and a hint) when it cannot work
RuntimeFactory = Callable[["Settings"], "Runtime"]
ChannelFactory = Callable[["Settings"], "Channel"]
AgentCoreFactory = Callable[[ChosenModel, "Settings"], "AgentCore"]
# factory(settings) -> McpServer, or None when the plugin is not configured here (no
# credentials): then the server is left out and runs get none of its tools
McpServerFactory = Callable[["Settings"], "McpServer | None"]

RegisterRuntime = Callable[[str, RuntimeFactory], None]
RegisterChannel = Callable[[str, ChannelFactory], None]
RegisterAgentCore = Callable[[str, AgentCoreFactory], None]


class RegisterMcpServer(Protocol):
    """register(McpServer(...)), or register(name, factory) for a server made from the
    Settings each time a run's servers are worked out (credentials in [plugin.NAME])."""

    @overload
    def __call__(self, server: McpServer, /) -> None: ...

    @overload
    def __call__(self, name: str, factory: McpServerFactory, /) -> None: ...


RegisterSkill = Callable[["str | os.PathLike[str]"], None]
RegisterAgent = Callable[[str, "AgentProfile"], None]


@dataclass(frozen=True)
class Problem:
    """One thing that keeps a plugin's component from working, for `pynchy doctor`:
    shown as the check `KIND NAME` (e.g. "channel telegram") with `what` and `fix`."""

    name: str  # the component, as registered: "telegram"
    what: str  # one line: what is wrong
    fix: str  # one line: how to fix it
    kind: str = "channel"  # the component's kind, as `pynchy plugin list` shows it


class PynchySpecs:
    # --- kinds of components -------------------------------------------------------------

    @hookspec
    def pynchy_runtimes(self, register: RegisterRuntime) -> None:
        """register(name, factory): factory(settings) -> Runtime (see core.runtimes.base)."""

    @hookspec
    def pynchy_channels(self, register: RegisterChannel) -> None:
        """register(name, factory): factory(settings) -> Channel (see core.serve.channels).
        A channel reads its credentials on the host (environment or [plugin.NAME] in
        config.toml) and never passes them to containers."""

    @hookspec
    def pynchy_agent_cores(self, register: RegisterAgentCore) -> None:
        """register(provider, factory): factory(choice, settings) -> AgentCore."""

    @hookspec
    def pynchy_mcp_servers(self, register: RegisterMcpServer) -> None:
        """register(McpServer(...)): an MCP server the host runs for allowed groups; or
        register(name, factory): factory(settings) -> McpServer | None, called when a run's
        servers are worked out; None leaves it out (not configured here). A factory that
        raises leaves it out with a warning naming the plugin."""

    @hookspec
    def pynchy_skills(self, register: RegisterSkill) -> None:
        """register(path): a folder holding SKILL.md (name and description in front matter)."""

    @hookspec
    def pynchy_agents(self, register: RegisterAgent) -> None:
        """register(name, AgentProfile(...)): an agent profile that the delegate and
        handoff tools can name; an [agents.NAME] table in config wins over it."""

    @hookspec
    def pynchy_commands(self, app: CommandApp) -> None:
        """Add Typer sub-apps or commands to the root `pynchy` CLI."""

    # --- health ----------------------------------------------------------------------------

    @hookspec
    def pynchy_doctor(self, settings: Settings) -> list[Problem]:
        """What keeps this plugin's components from working with these settings, checked
        offline (configuration, credentials present, libraries installed); [] when fine.
        `pynchy doctor` shows each Problem; a channel of this plugin without one shows as
        "credentials configured"."""

    # --- agent lifecycle -----------------------------------------------------------------

    @hookspec
    def pynchy_before_run(self, run: RunInfo) -> str | None:
        """Before a run starts. Return a reason to refuse it."""

    @hookspec
    def pynchy_before_tool(
        self, run: RunInfo, tool: str, arguments: dict[str, Any]
    ) -> dict[str, Any] | str | None:
        """Before a tool call. Return None to allow, a dict to replace the arguments,
        or a string: the reason it is refused. Set `tools` on the function (tool names,
        or prefixes such as "mcp__browser__") to be asked only about those: the
        container's own tools (bash, read_file, ...) then run without a round trip to
        the host unless named."""

    @hookspec
    def pynchy_after_tool(
        self, run: RunInfo, tool: str, arguments: dict[str, Any], result: ToolResult
    ) -> None:
        """After a tool call, with its result (content, is_error)."""

    @hookspec
    def pynchy_after_run(self, run: RunInfo, outcome: RunOutcome) -> None:
        """After a run ended, with its outcome (status, text, error)."""

    @hookspec
    def pynchy_on_error(self, run: RunInfo, error: str) -> None:
        """When a run fails."""
