"""Finding and loading plugins: built-ins first, then the `pynchy` entry point group.

A plugin that fails to import or register is skipped with a warning that names it and
says how to uninstall it; everything else keeps working.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from pynchy_cli.core.plugins import hookspecs

ENTRY_POINT_GROUP = "pynchy"
log = logging.getLogger("pynchy.plugins")


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str  # builtin | entry point "dist-name"
    kinds: list[str] = field(default_factory=list)
    enabled: bool = True
    error: str | None = None


@dataclass
class Registry:
    runtimes: dict[str, Callable[..., Any]] = field(default_factory=dict)
    channels: dict[str, Callable[..., Any]] = field(default_factory=dict)
    agent_cores: dict[str, Callable[..., Any]] = field(default_factory=dict)
    mcp_servers: list[Any] = field(default_factory=list)
    skills: list[Any] = field(default_factory=list)


_KIND_HOOKS = {
    "runtime": ("pynchy_runtimes", "runtimes"),
    "channel": ("pynchy_channels", "channels"),
    "agent_core": ("pynchy_agent_cores", "agent_cores"),
    "mcp": ("pynchy_mcp_servers", "mcp_servers"),
    "skill": ("pynchy_skills", "skills"),
}
_LIFECYCLE = (
    "pynchy_before_run",
    "pynchy_before_tool",
    "pynchy_after_tool",
    "pynchy_after_run",
    "pynchy_on_error",
)


class Plugins:
    def __init__(self, allow: set[str] | None = None, disabled: set[str] | None = None):
        self.pm = pluggy.PluginManager("pynchy")
        self.pm.add_hookspecs(hookspecs.PynchySpecs)
        self.infos: dict[str, PluginInfo] = {}
        self.warnings: list[str] = []
        self.registry = Registry()
        self._allow = allow
        self._disabled = disabled or set()

    def add(self, name: str, plugin: Any, version: str, source: str) -> None:
        info = PluginInfo(name, version, source)
        self.infos[name] = info
        if name in self._disabled or (
            self._allow is not None and source != "builtin" and name not in self._allow
        ):
            info.enabled = False
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a plugin that does not validate against the specs
            self._fail(info, f"does not validate: {exc}")
            return
        info.kinds = self._kinds_of(plugin)

    def _kinds_of(self, plugin: Any) -> list[str]:
        kinds = [k for k, (hook, _) in _KIND_HOOKS.items() if hasattr(plugin, hook)]
        if any(hasattr(plugin, h) for h in _LIFECYCLE):
            kinds.append("hook")
        if hasattr(plugin, "pynchy_commands"):
            kinds.append("commands")
        return kinds

    def _fail(self, info: PluginInfo, why: str) -> None:
        info.enabled = False
        info.error = why
        dist = info.source.removeprefix("entry point ").strip('"')
        hint = f"uninstall it with: pynchy plugin uninstall {dist}" if dist != "builtin" else ""
        message = f"plugin {info.name} skipped: {why}" + (f"; {hint}" if hint else "")
        self.warnings.append(message)
        log.warning(message)

    def discover(self) -> None:
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else ep.name
            version = ep.dist.version if ep.dist else "?"
            if ep.name in self.infos:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                info = PluginInfo(ep.name, version, f'entry point "{dist}"')
                self.infos[ep.name] = info
                self._fail(info, f"failed to import ({type(exc).__name__}: {exc})")
                continue
            self.add(ep.name, plugin, version, f'entry point "{dist}"')

    def collect(self) -> Registry:
        """Call every registration hook; a plugin that raises is skipped with a warning."""
        for _kind, (hook, attr) in _KIND_HOOKS.items():
            target = getattr(self.registry, attr)
            for impl in getattr(self.pm.hook, hook).get_hookimpls():

                def register(*args: Any, _target: Any = target) -> None:
                    if isinstance(_target, dict):
                        name, factory = args
                        _target[name] = factory
                    else:
                        _target.append(args[0])

                try:
                    impl.function(register)
                except Exception as exc:
                    info = self.infos.get(impl.plugin_name)
                    if info:
                        self._fail(info, f"{hook} raised {type(exc).__name__}: {exc}")
        return self.registry


def plugins_for(settings: Any) -> Plugins:
    """Plugins as this configuration wants them: PYNCHY_PLUGINS (comma-separated) is an
    allow-list of third-party plugins; [plugin.NAME] enabled = false disables one."""
    raw = os.environ.get("PYNCHY_PLUGINS")
    allow = {p.strip() for p in raw.split(",") if p.strip()} if raw is not None else None
    disabled = {n for n, table in settings.plugin.items() if table.get("enabled") is False}
    return load_plugins(allow, disabled)


def load_plugins(allow: set[str] | None = None, disabled: set[str] | None = None) -> Plugins:
    from pynchy_cli.core.plugins import builtins

    plugins = Plugins(allow, disabled)
    plugins.add("builtins", builtins, _version(), "builtin")
    plugins.discover()
    plugins.collect()
    return plugins


def _version() -> str:
    from pynchy_cli import __version__

    return __version__
