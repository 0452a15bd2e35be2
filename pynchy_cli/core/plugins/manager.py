"""Finding and loading plugins: built-ins first, then the `pynchy` entry point group.

Every component, pynchy's own included, registers through the hooks in hookspecs.py. A
plugin that fails to import, does not validate against the specs, or raises while it
registers is skipped with one warning line that names it and says how to uninstall it;
everything else keeps working.

Loading is cached per process: entry points are imported once (`_imported`), and the
Plugins built for one allow-list and disabled set are reused (`load_plugins`).
`reset_plugins()` forgets both, for tests and after `pynchy plugin install`.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pluggy

from pynchy_cli.core.agent.profiles import AgentProfile
from pynchy_cli.core.plugins import hookspecs
from pynchy_cli.core.plugins.hookspecs import (
    AgentCoreFactory,
    ChannelFactory,
    Problem,
    RuntimeFactory,
)
from pynchy_cli.core.plugins.mcp import ServerFactory

ENTRY_POINT_GROUP = "pynchy"
ALLOW_ENV = "PYNCHY_PLUGINS"
BUILTIN = "builtin"
# Plugins that are part of pynchy itself: name -> module. Always loaded, never disabled.
BUILTIN_PLUGINS: dict[str, str] = {
    "builtins": "pynchy_cli.core.plugins.builtins",
    # hooks that act only in the groups [plugin.NAME] groups names (lifecycle.OPT_IN_HOOKS)
    "selfdoc": "pynchy_cli.core.plugins.selfdoc",
    "ruff": "pynchy_cli.core.plugins.ruff_hook",
}

log = logging.getLogger("pynchy.plugins")

# kind -> (registration hook, Registry attribute)
KIND_HOOKS: dict[str, tuple[str, str]] = {
    "runtime": ("pynchy_runtimes", "runtimes"),
    "channel": ("pynchy_channels", "channels"),
    "agent_core": ("pynchy_agent_cores", "agent_cores"),
    "mcp": ("pynchy_mcp_servers", "mcp_servers"),
    "skill": ("pynchy_skills", "skills"),
    "agent": ("pynchy_agents", "agents"),
}
LIFECYCLE_HOOKS = (
    "pynchy_before_run",
    "pynchy_before_tool",
    "pynchy_after_tool",
    "pynchy_after_run",
    "pynchy_on_error",
)
COMMANDS_HOOK = "pynchy_commands"
DOCTOR_HOOK = "pynchy_doctor"
KINDS = (*KIND_HOOKS, "hook", "commands")


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str  # "builtin", or the distribution that provides it
    kinds: list[str] = field(default_factory=list)
    enabled: bool = True
    error: str | None = None  # why it was skipped (broken)
    disabled_by: str | None = None  # "config" ([plugin.NAME] enabled = false) | PYNCHY_PLUGINS
    module: str = ""  # the entry point's value
    registered: dict[str, list[str]] = field(default_factory=dict)  # kind -> names

    @property
    def builtin(self) -> bool:
        return self.source == BUILTIN

    @property
    def status(self) -> str:
        if self.error:
            return "broken"
        if not self.enabled:
            return f"disabled ({self.disabled_by})" if self.disabled_by else "disabled"
        return "enabled"

    def uninstall_hint(self) -> str:
        return f"uninstall it with: pynchy plugin uninstall {self.source}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status
        return data


@dataclass
class Registry:
    """What the enabled plugins registered. Names are unique per kind: the first plugin to
    register a name keeps it (built-ins come first), later ones are warned about."""

    runtimes: dict[str, RuntimeFactory] = field(default_factory=dict)
    channels: dict[str, ChannelFactory] = field(default_factory=dict)
    agent_cores: dict[str, AgentCoreFactory] = field(default_factory=dict)
    mcp_servers: list[Any] = field(default_factory=list)  # McpServer or ServerFactory
    skills: list[Any] = field(default_factory=list)
    agents: dict[str, AgentProfile] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> plugin


def registered_name(kind: str, item: Any) -> str:
    """A display name for something registered to a list kind (an MCP server, a skill)."""
    name = getattr(item, "name", None)
    if isinstance(name, str) and name:
        return name
    if kind == "skill":
        return os.path.basename(os.fspath(item).rstrip("/")) if _pathlike(item) else str(item)
    return str(item)


def _pathlike(item: Any) -> bool:
    return isinstance(item, str | os.PathLike)


# --- warnings: one line each, once per process ------------------------------------------

_warned: set[str] = set()
_warn_lock = threading.Lock()


def _emit(message: str) -> None:
    """Print a plugin warning once per process. Under `serve` (the `pynchy` logger has
    handlers) it goes to the log, which prints to the console too; else to stderr."""
    with _warn_lock:
        if message in _warned:
            return
        _warned.add(message)
    if logging.getLogger("pynchy").handlers:
        log.warning(message)
    else:
        sys.stderr.write(f"pynchy: warning: {message}\n")
        sys.stderr.flush()


# --- entry points, imported once per process --------------------------------------------


@dataclass
class Found:
    """An entry point in the `pynchy` group."""

    name: str
    dist: str
    version: str
    value: str
    entry_point: md.EntryPoint | None = None


_imported: dict[tuple[str, str], Any] = {}  # (name, value) -> plugin object or BaseException
_import_lock = threading.RLock()


def entry_points() -> list[Found]:
    found = []
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else ep.name
        version = ep.dist.version if ep.dist is not None else "?"
        found.append(Found(ep.name, dist, version, ep.value, ep))
    return sorted(found, key=lambda f: f.name)


def _import(found: Found) -> Any:
    """The entry point's object, or the exception importing it raised (both cached)."""
    key = (found.name, found.value)
    with _import_lock:
        if key not in _imported:
            try:
                assert found.entry_point is not None
                _imported[key] = found.entry_point.load()
            except BaseException as exc:  # a plugin's import may even call sys.exit
                if isinstance(exc, KeyboardInterrupt):
                    raise
                _imported[key] = exc
        return _imported[key]


# --- the plugin set ----------------------------------------------------------------------


class Plugins:
    """One pluggy PluginManager with the built-ins and the enabled third-party plugins,
    and the Registry their registration hooks filled."""

    def __init__(self, allow: set[str] | None = None, disabled: set[str] | None = None):
        self.pm = pluggy.PluginManager("pynchy")
        self.pm.add_hookspecs(hookspecs.PynchySpecs)
        self.infos: dict[str, PluginInfo] = {}
        self.warnings: list[str] = []
        self.registry = Registry()
        self._allow = allow
        self._disabled = disabled or set()

    # --- adding ---------------------------------------------------------------------------

    def add_builtin(self, name: str, plugin: Any) -> None:
        info = PluginInfo(name, _version(), BUILTIN, module=getattr(plugin, "__name__", ""))
        self.infos[name] = info
        self._register(info, plugin)

    def add_entry_point(self, found: Found) -> None:
        if found.name in self.infos:
            other = self.infos[found.name]
            self.warn(
                f"plugin {found.name} from {found.dist} ignored: the name is taken by "
                f"{other.source}; uninstall one with: pynchy plugin uninstall {found.dist}"
            )
            return
        info = PluginInfo(found.name, found.version, found.dist, module=found.value)
        self.infos[found.name] = info
        if self._allow is not None and not ({found.name, found.dist} & self._allow):
            info.enabled, info.disabled_by = False, ALLOW_ENV
            return
        if found.name in self._disabled:
            info.enabled, info.disabled_by = False, "config"
            return
        plugin = _import(found)
        if isinstance(plugin, BaseException):
            self._fail(info, f"failed to import ({_describe(plugin)})")
            return
        self._register(info, plugin)

    def _register(self, info: PluginInfo, plugin: Any) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # a hookimpl whose arguments do not match its spec
            self._fail(info, f"does not validate ({_describe(exc)})")
            return
        hooks = [c.name for c in self.pm.get_hookcallers(plugin) or []]
        unknown = sorted(h for h in hooks if not getattr(self.pm.hook, h).has_spec())
        if unknown or not hooks:
            self.pm.unregister(plugin)
            why = f"unknown hook {', '.join(unknown)}" if unknown else "it implements no hook"
            self._fail(info, f"does not validate ({why})")
            return
        info.kinds = [k for k, (hook, _) in KIND_HOOKS.items() if hook in hooks]
        lifecycle = [h for h in LIFECYCLE_HOOKS if h in hooks]
        if lifecycle:
            info.kinds.append("hook")
            info.registered["hooks"] = lifecycle
        if COMMANDS_HOOK in hooks:
            info.kinds.append("commands")

    # --- registration hooks ---------------------------------------------------------------

    def collect(self) -> Registry:
        """Call each enabled plugin's registration hooks. A plugin whose hook raises is
        skipped whole: nothing it registered is kept and its other hooks are unregistered."""
        for info in list(self.infos.values()):
            plugin = self.pm.get_plugin(info.name)
            if plugin is None or not info.enabled:
                continue
            staged: list[tuple[str, str, Any]] = []  # (kind, name, item)
            try:
                for kind, (hook, _attr) in KIND_HOOKS.items():
                    for impl in getattr(self.pm.hook, hook).get_hookimpls():
                        if impl.plugin_name == info.name:
                            impl.function(_registrar(kind, info.name, staged))
            except Exception as exc:
                self.pm.unregister(name=info.name)
                self._fail(info, f"{_describe(exc)} while registering")
                continue
            self._commit(info, staged)
        return self.registry

    def _commit(self, info: PluginInfo, staged: list[tuple[str, str, Any]]) -> None:
        for kind, name, item in staged:
            attr = KIND_HOOKS[kind][1]
            owner = self.registry.owners.get((kind, name))
            if owner is not None:
                self.warn(
                    f"plugin {info.name}: {kind} {name!r} is already provided by {owner}; "
                    f"{info.name}'s is ignored"
                )
                continue
            self.registry.owners[(kind, name)] = info.name
            target = getattr(self.registry, attr)
            if isinstance(target, dict):
                target[name] = item
            else:
                target.append(item)
            info.registered.setdefault(_PLURAL[kind], []).append(name)

    # --- health -----------------------------------------------------------------------------

    def doctor_problems(self, settings: Any) -> dict[str, list[Problem]]:
        """Each enabled plugin's answer to pynchy_doctor, by plugin name. A hook that
        raises or answers something else than a list of Problems becomes one Problem per
        channel it registered (its check failed), so one plugin never breaks doctor."""
        answers: dict[str, list[Problem]] = {}
        for impl in reversed(getattr(self.pm.hook, DOCTOR_HOOK).get_hookimpls()):
            plugin = impl.plugin_name
            try:
                answer = impl.function(settings) if impl.argnames else impl.function()
                if not isinstance(answer, list) or not all(isinstance(p, Problem) for p in answer):
                    raise TypeError(f"answered {answer!r}, wanted a list of Problem")
            except Exception as exc:
                info = self.infos.get(plugin)
                names = (info.registered.get("channels") if info else None) or [plugin]
                fix = f"pynchy plugin info {plugin}"
                answer = [Problem(name, f"its check failed: {exc}", fix) for name in names]
            answers[plugin] = answer
        return answers

    # --- reporting ------------------------------------------------------------------------

    def _fail(self, info: PluginInfo, why: str) -> None:
        info.enabled = False
        info.error = why
        info.kinds = []
        hint = "" if info.builtin else f"; {info.uninstall_hint()}"
        self.warn(f"plugin {info.name} skipped: {why}{hint}")

    def warn(self, message: str) -> None:
        """Record a warning and print it (once per process)."""
        self.warnings.append(message)
        _emit(message)

    def get(self, name: str) -> PluginInfo | None:
        """A plugin by its name, or by the distribution that provides it."""
        if name in self.infos:
            return self.infos[name]
        wanted = _normalize(name)
        return next((i for i in self.infos.values() if _normalize(i.source) == wanted), None)

    @property
    def broken(self) -> list[PluginInfo]:
        return [i for i in self.infos.values() if i.error]


_PLURAL = {
    "runtime": "runtimes",
    "channel": "channels",
    "agent_core": "agent_cores",
    "mcp": "mcp_servers",
    "skill": "skills",
    "agent": "agents",
}


def _registrar(kind: str, plugin: str, staged: list[tuple[str, str, Any]]) -> Callable[..., None]:
    keyed = isinstance(getattr(Registry(), KIND_HOOKS[kind][1]), dict)

    def register(*args: Any) -> None:
        if kind == "mcp" and len(args) == 2:  # (name, factory): made per run from the settings
            if not isinstance(args[0], str) or not callable(args[1]):
                raise TypeError("register for an mcp server takes (McpServer) or (name, factory)")
            staged.append((kind, args[0], ServerFactory(args[0], args[1], plugin)))
        elif kind == "agent":
            if (
                len(args) != 2
                or not isinstance(args[0], str)
                or not isinstance(args[1], AgentProfile)
            ):
                raise TypeError("register for an agent takes (name: str, AgentProfile)")
            staged.append((kind, args[0], args[1]))
        elif keyed:
            if len(args) != 2 or not isinstance(args[0], str) or not callable(args[1]):
                raise TypeError(f"register for a {kind} takes (name: str, factory)")
            staged.append((kind, args[0], args[1]))
        else:
            if len(args) != 1:
                raise TypeError(f"register for a {kind} takes one argument")
            staged.append((kind, registered_name(kind, args[0]), args[0]))

    return register


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _version() -> str:
    from pynchy_cli import __version__

    return __version__


# --- loading, cached ---------------------------------------------------------------------

_cache: dict[tuple[frozenset[str] | None, frozenset[str]], Plugins] = {}
_cache_lock = threading.RLock()


def allow_list(environ: dict[str, str] | None = None) -> set[str] | None:
    """PYNCHY_PLUGINS as a set (None when unset: every installed plugin is allowed)."""
    raw = (os.environ if environ is None else environ).get(ALLOW_ENV)
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def disabled_in(settings: Any) -> set[str]:
    tables = getattr(settings, "plugin", None) or {}
    return {n for n, t in tables.items() if isinstance(t, dict) and t.get("enabled") is False}


def plugins_for(settings: Any = None) -> Plugins:
    """Plugins as this configuration wants them: PYNCHY_PLUGINS (comma-separated plugin or
    distribution names) is an allow-list of third-party plugins; [plugin.NAME] enabled =
    false in config.toml disables one. Built-ins are always loaded."""
    return load_plugins(allow_list(), disabled_in(settings) if settings is not None else set())


def load_plugins(allow: Iterable[str] | None = None, disabled: Iterable[str] = ()) -> Plugins:
    key = (frozenset(allow) if allow is not None else None, frozenset(disabled))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _load(key[0], set(key[1]))
        return _cache[key]


def _load(allow: frozenset[str] | None, disabled: set[str]) -> Plugins:
    import importlib

    plugins = Plugins(set(allow) if allow is not None else None, disabled)
    for name, module in BUILTIN_PLUGINS.items():
        plugins.add_builtin(name, importlib.import_module(module))
    for found in entry_points():
        plugins.add_entry_point(found)
    plugins.collect()
    return plugins


def reset_plugins() -> None:
    """Forget loaded plugins, imported entry points and printed warnings (tests, and after
    installing or removing a plugin in this process)."""
    with _cache_lock, _import_lock, _warn_lock:
        _cache.clear()
        _imported.clear()
        _warned.clear()
