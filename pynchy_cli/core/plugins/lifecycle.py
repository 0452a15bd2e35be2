"""Calling the lifecycle hooks of plugins around an agent run and its tool calls.

    pynchy_before_run(run)                      return a reason to refuse the run
    pynchy_before_tool(run, tool, arguments)    None: allow; dict: new arguments; str: refuse
    pynchy_after_tool(run, tool, arguments, result)   result: ToolResult(content, is_error)
    pynchy_after_run(run, outcome)              outcome: a RunOutcome (status, text, error)
    pynchy_on_error(run, error)                 the run did not succeed

`run` is a RunInfo. Hooks are called one plugin at a time, in pluggy's order (last
registered first; tryfirst/trylast respected), so one that raises is reported through
`report` and skipped while the others still run. before_tool hooks see the arguments as
the hooks before them left them; the first refusal stops the chain. Old-style hook
wrappers are not called.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from pynchy_cli.core.config import Settings

log = logging.getLogger("pynchy.plugins")

# report(plugin, hook, exception): a hook raised or answered nonsense.
Report = Callable[[str, str, BaseException], None]
# Built-in hook plugins (core.plugins.selfdoc, .ruff_hook) that act only in the groups
# their [plugin.NAME] groups names; other plugins act in every group unless it names some.
OPT_IN_HOOKS = frozenset({"selfdoc", "ruff"})


def acts_in_group(settings: Any, group: str) -> Callable[[str], bool]:
    """Whether a plugin's lifecycle hooks act in runs of `group`: `[plugin.NAME] groups =
    [...]` names the groups ("*": every one)."""
    tables = getattr(settings, "plugin", None) or {}

    def acts(plugin: str) -> bool:
        table = tables.get(plugin)
        groups = table.get("groups") if isinstance(table, dict) else None
        if not isinstance(groups, list):
            return plugin not in OPT_IN_HOOKS
        return "*" in groups or group in groups

    return acts


@dataclass(frozen=True)
class RunInfo:
    """What lifecycle hooks know of a run."""

    run_id: str
    group: str
    folder: Path  # the group's workspace on the host
    prompt: str
    model: str  # the model spec, e.g. anthropic:claude-sonnet-5-5
    runtime: str
    task_id: int | None
    settings: Settings  # [plugin.NAME] tables are in settings.plugin


class ToolResult(NamedTuple):
    content: str
    is_error: bool


class RunOutcome(Protocol):
    """How a run ended, as pynchy_after_run sees it. The run itself hands over its own
    record (core.agent.run's dataclass of the same name); hooks read only these fields."""

    run_id: str
    status: str  # succeeded | failed | stopped | timeout
    text: str  # the agent's final answer
    error: str | None
    exit_code: int | None


@dataclass
class ToolDecision:
    arguments: dict[str, Any]
    refused: str | None = None  # the reason, naming the plugin
    changed_by: list[str] = field(default_factory=list)  # plugins that replaced the arguments


class HookAnswerError(TypeError):
    """A hook answered with something its spec does not allow."""


class Hooks:
    def __init__(
        self,
        pm: Any | None,
        report: Report | None = None,
        acts: Callable[[str], bool] | None = None,
    ):
        """`acts(plugin)`: whether that plugin's hooks run here (acts_in_group)."""
        self.pm = pm
        self.report = report or _log_report
        self.acts = acts or (lambda plugin: True)

    def _impls(self, hook: str) -> list[Any]:
        caller = getattr(self.pm.hook, hook, None) if self.pm is not None else None
        if caller is None:
            return []
        impls = caller.get_hookimpls()
        return [
            i
            for i in reversed(impls)
            if not getattr(i, "hookwrapper", False)
            and not getattr(i, "wrapper", False)
            and self.acts(i.plugin_name)
        ]

    def has(self, hook: str) -> bool:
        return bool(self._impls(hook))

    def asks_about(self, hook: str, tool: str) -> bool:
        """Whether some implementation of `hook` wants to see calls of `tool`: one that sets
        `tools` on its function (names, or prefixes ending in "__") only for those, one
        that does not for every tool."""
        for impl in self._impls(hook):
            watched = getattr(impl.function, "tools", None)
            if watched is None or any(
                tool == w or (w.endswith("__") and tool.startswith(w)) for w in watched
            ):
                return True
        return False

    def _each(self, hook: str, **kwargs: Any) -> Any:
        """Yield (plugin name, answer) of each implementation that did not raise."""
        for impl in self._impls(hook):
            try:
                answer = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                self.report(impl.plugin_name, hook, exc)
                continue
            yield impl.plugin_name, answer

    def before_run(self, run: RunInfo) -> str | None:
        """The first refusal ("plugin NAME: reason"), or None."""
        for plugin, answer in self._each("pynchy_before_run", run=run):
            if answer is None:
                continue
            if not isinstance(answer, str):
                self.report(plugin, "pynchy_before_run", HookAnswerError(_bad(answer, "a str")))
                continue
            return f"plugin {plugin}: {answer or 'refused'}"
        return None

    def before_tool(self, run: RunInfo, tool: str, arguments: dict[str, Any]) -> ToolDecision:
        decision = ToolDecision(arguments=arguments)
        for impl in self._impls("pynchy_before_tool"):
            plugin = impl.plugin_name
            kwargs = {"run": run, "tool": tool, "arguments": copy.deepcopy(decision.arguments)}
            try:
                answer = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                self.report(plugin, "pynchy_before_tool", exc)
                continue
            if answer is None:
                continue
            if isinstance(answer, str):
                decision.refused = f"plugin {plugin}: {answer or 'refused'}"
                return decision
            if isinstance(answer, dict) and all(isinstance(k, str) for k in answer):
                decision.arguments = answer
                decision.changed_by.append(plugin)
                continue
            self.report(
                plugin, "pynchy_before_tool", HookAnswerError(_bad(answer, "a dict or str"))
            )
        return decision

    def after_tool(
        self, run: RunInfo, tool: str, arguments: dict[str, Any], result: ToolResult
    ) -> None:
        for _ in self._each(
            "pynchy_after_tool", run=run, tool=tool, arguments=arguments, result=result
        ):
            pass

    def after_run(self, run: RunInfo, outcome: RunOutcome) -> None:
        for _ in self._each("pynchy_after_run", run=run, outcome=outcome):
            pass

    def on_error(self, run: RunInfo, error: str) -> None:
        for _ in self._each("pynchy_on_error", run=run, error=error):
            pass


def _bad(answer: Any, wanted: str) -> str:
    return f"answered {type(answer).__name__}, wanted None or {wanted}"


def _log_report(plugin: str, hook: str, exc: BaseException) -> None:
    log.warning("plugin %s: %s raised %s: %s (skipped)", plugin, hook, type(exc).__name__, exc)
