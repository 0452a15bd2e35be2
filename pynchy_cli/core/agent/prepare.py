"""Preparing one agent run: everything decided before its container starts.

From a RunRequest it chooses the model and the runtime, the group's security profile and
the run's policy gate, builds the host toolbox and the plugin extensions, gathers the
tool specs the gate offers, resumes (or starts) the group's session and writes the
system prompt. The socket handlers and the container
lifecycle both read the resulting PreparedRun.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.delegation import Delegation, Lineage, pick_agent
from pynchy_cli.core.agent.events import EventSink, RunEvents
from pynchy_cli.core.agent.host_tools import HOST_TOOL_NAMES, HOST_TOOLS, Deliver, HostToolbox
from pynchy_cli.core.agent.profiles import agent_profiles, with_profile
from pynchy_cli.core.agent.prompt import system_prompt
from pynchy_cli.core.budgets import Budgets
from pynchy_cli.core.context import Context
from pynchy_cli.core.groups import Group, ensure_global_memory
from pynchy_cli.core.memory_layout import organise_once
from pynchy_cli.core.models import choose_model
from pynchy_cli.core.plugins.extensions import RunExtensions, load_plugins_safely
from pynchy_cli.core.plugins.lifecycle import RunInfo
from pynchy_cli.core.policy.gate import PolicyGate
from pynchy_cli.core.policy.profiles import profile_for_run
from pynchy_cli.core.runtimes.base import Runtime
from pynchy_cli.core.runtimes.select import get_runtime

CONFIGURED_PLUGINS: Any = object()  # `plugins=` default: load the configured plugin set


@dataclass
class RunRequest:
    group: Group
    prompt: str
    model: str | None = None  # --model; else the group's, else the default
    runtime: str | None = None  # --runtime; else the configured one
    new_session: bool = False
    task_id: int | None = None
    followup_wait: int = 0  # seconds a warm container waits for follow-ups
    agent: str | None = None  # an agent profile; None: the one holding the session, if any
    lineage: Lineage | None = None  # a delegate's or handoff successor's place; None: a root
    mcp_servers: tuple[str, ...] = ()  # servers beside the group's (a periodic agent's)


class PreparedRun:
    def __init__(
        self,
        ctx: Context,
        request: RunRequest,
        *,
        on_event: EventSink | None = None,
        deliver: Deliver | None = None,
        plugins: Any = CONFIGURED_PLUGINS,
        runtime: Runtime | None = None,
    ):
        """`plugins`: a loaded plugin set (core.plugins.manager.Plugins) to use, None for
        none; by default the configured plugins are loaded (plugins_for(settings))."""
        self.ctx = ctx
        self.settings = ctx.settings
        self.db = ctx.db
        self.request = request
        if plugins is CONFIGURED_PLUGINS:
            plugins = load_plugins_safely(self.settings)
        # An agent profile runs with its own model, account, tools and security profile.
        self.lineage = request.lineage or Lineage()
        stored_group = request.group
        agents = agent_profiles(self.settings, plugins, ctx.paths.config_dir, stored_group.name)
        self.agent, agent_warning = pick_agent(self.db, request, agents)
        request.group = with_profile(stored_group, self.agent)
        self.profile, warning = profile_for_run(self.settings, request.group.profile)
        # told once the run exists
        self.policy_warnings = [w for w in (agent_warning, warning) if w]
        if request.group.network and not self.profile.network:
            self.policy_warnings.append(
                f"no network: the security profile {self.profile.name} does not allow it"
            )
        # The container gets a network only if the group asks and its profile allows it;
        # the container spec reads request.group, so the effective group goes there too.
        network = request.group.network and self.profile.network
        request.group = self.group = replace(request.group, network=network)
        self.run_id = store.new_run_id()
        self.token = secrets.token_urlsafe(32)  # the container's key to the run's socket
        self.events = RunEvents(self.db, self.run_id, self.group.id, on_event)
        self.choice = choose_model(
            self.settings,
            flag=(self.agent.model if self.agent else None) or request.model,
            group_model=self.group.model,
            group_account=self.group.account,
        )
        Budgets(self.db, self.settings, self.group, self.choice.account).check()  # no cost yet
        self.runtime: Runtime = runtime or get_runtime(self.settings, request.runtime)
        self.toolbox = HostToolbox(
            self.db, self.group, self.run_id, self.settings.assistant_name, deliver
        )
        self.gate = PolicyGate(
            self.db,
            run_id=self.run_id,
            group_id=self.group.id,
            profile=self.profile,
            session_id=None if request.new_session else self.group.session_id,
            narrower=self.agent.refusal if self.agent else None,
        )
        self.delegation = Delegation(
            settings=self.settings,
            run_id=self.run_id,
            group=stored_group,
            request=request,
            lineage=self.lineage,
            agent=self.agent,
            agents=agents,
            gate=self.gate,
            events=self.events,
        )
        memory_notes = organise_once(self.db, ctx.paths, self.group)  # before skills are found
        self.ext = RunExtensions(
            plugins,
            self.settings,
            ctx.paths,
            self.group,
            self.events.hook_failed,
            allow_server=self.profile.allows_server,
            network=self.profile.network,
            extra_servers=request.mcp_servers,
        )
        self.info = RunInfo(
            run_id=self.run_id,
            group=self.group.name,
            folder=self.group.path,
            prompt=request.prompt,
            model=self.choice.spec,
            runtime=self.runtime.name,
            task_id=request.task_id,
            settings=self.settings,
        )
        extra = [*self.ext.static_specs(), *self.delegation.specs.values()]
        # The tools the gate offers; the host serves those in host_tool_names. Host tools
        # it does not offer stay known, so that a forged call is refused and recorded.
        everything = [*protocol.LOCAL_TOOLS, *HOST_TOOLS, *extra]
        self.tool_specs = {t["name"]: t for t in everything if self.gate.offers(t["name"])}
        self.known_host_tools = {*HOST_TOOL_NAMES, *(t["name"] for t in extra)}
        self.host_tool_names = {n for n in self.known_host_tools if n in self.tool_specs}
        # Local tools the container asks about first: those a plugin's before_tool hook
        # wants to see, and those the profile has a rule for.
        hooks = self.ext.hooks
        self.tool_checks = [
            n
            for n in protocol.LOCAL_TOOL_NAMES
            if n in self.tool_specs
            and (self.gate.watches(n) or hooks.asks_about("pynchy_before_tool", n))
        ]
        self.session_id = (
            None if request.new_session else self.group.session_id
        ) or store.new_session_id()
        self.history = (
            [] if request.new_session else store.load_session(self.db, self.group.session_id)
        )
        # refused memory files, a memory split into skills: told once the run exists
        self.prompt_warnings: list[str] = memory_notes
        self.system = self._system_prompt(self.prompt_warnings)

    def _system_prompt(self, warnings: list[str] | None = None) -> str:
        note = self.delegation.prompt_note()  # an agent profile's prompt, a linked run's place
        return system_prompt(
            self.settings.assistant_name,
            self.group,
            ensure_global_memory(self.ctx.paths),
            list(self.tool_specs),
            skills=self.ext.skill_list(),
            warnings=warnings,
        ) + (f"\n\n{note}" if note else "")

    async def add_mcp_tools(self) -> None:
        """Start (or recall) the MCP servers this group may use and add their tools.
        Called once the run is allowed to start; the run row must exist."""
        for warning in [*self.policy_warnings, *self.prompt_warnings, *self.ext.take_warnings()]:
            self.events.warn(warning)
        specs = await self.ext.mcp_specs()
        for warning in self.ext.take_warnings():
            self.events.warn(warning)
        if not specs:
            return
        self.gate.add_mcp_rules(self.ext.mcp_rules())
        for spec in specs:
            self.known_host_tools.add(spec["name"])
            if self.gate.offers(spec["name"]):
                self.tool_specs[spec["name"]] = spec
                self.host_tool_names.add(spec["name"])
        self.system = self._system_prompt()
        store.update_run(self.db, self.run_id, system_prompt=self.system)

    def argument_problem(self, name: str, arguments: Any) -> str | None:
        """Why these arguments do not fit the host tool's schema, or None."""
        if not isinstance(arguments, dict):
            return "arguments must be an object"
        if self.ext.owns(name):
            return self.ext.check(name, arguments)
        if self.delegation.owns(name):
            return self.delegation.check(name, arguments)
        return self.toolbox.check(name, arguments)

    def server_of(self, name: str) -> Any:
        """What serves this host tool: plugins' extensions, delegation, or the toolbox."""
        if self.ext.owns(name):
            return self.ext
        return self.delegation if self.delegation.owns(name) else self.toolbox
