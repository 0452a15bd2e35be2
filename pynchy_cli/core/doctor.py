"""Health checks: each says what is wrong and how to fix it in one line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.models import choose_model
from pynchy_cli.core.runtimes.detect import find_engine

ENGINE_RUNTIMES = ("auto", "podman", "docker", "process")  # built in; others come from plugins


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True  # a failing optional check warns but does not fail doctor

    def as_dict(self) -> dict:
        return asdict(self)


def _python(_: Context) -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    # pynchy itself refuses to install below 3.11, so reaching here means it is new enough.
    return Check("python", True, f"Python {version} at {sys.executable}")


def _config(c: Context) -> Check:
    _ = c.settings  # raises ConfigError with its own hint
    where = c.paths.config_file if c.paths.config_file.exists() else "defaults (no config.toml)"
    return Check("config", True, f"valid: {where}")


def _data_folder(c: Context) -> Check:
    folder = c.data_dir  # made and made private, or a ConfigError that says what is wrong
    return Check("data folder", True, f"{folder} (writable, private to you)")


def _database(c: Context) -> Check:
    _ = c.db  # opens and migrates, or raises with a hint
    return Check("database", True, f"{c.paths.database} (WAL, migrations current)")


def _file_modes(c: Context) -> Check:
    from pynchy_cli.core.file_modes import open_to_others

    loose = open_to_others(c.paths)
    if not loose:
        return Check("file modes", True, "config and data private to you", required=False)
    shown = ", ".join(f"{path} ({mode:o})" for path, mode in loose)
    fix = "; ".join(f"chmod go-rwx {path}" for path, _ in loose)
    return Check("file modes", False, f"open to other users: {shown}", fix, required=False)


def _runtime(c: Context) -> Check:
    settings = c.settings
    if settings.runtime not in ENGINE_RUNTIMES:  # a plugin's runtime: can it be made?
        from pynchy_cli.core.runtimes.select import get_runtime

        runtime = get_runtime(settings)
        return Check("runtime", True, f"{runtime.name} (from a plugin)")
    if settings.runtime == "process":
        ok = settings.allow_process_runtime
        return Check(
            "runtime",
            ok,
            "process runtime (no isolation)" + ("" if ok else " is not allowed"),
            None if ok else "Set allow_process_runtime = true (development only) or use podman",
        )
    engine = find_engine(settings.container_socket, settings.runtime)
    return Check("runtime", True, f"{engine.kind} at {engine.url}")


def _image(c: Context) -> Check:
    from pynchy_cli.core.runtimes.engine_images import image_exists

    settings = c.settings
    if settings.runtime == "process":
        return Check("image", True, "not needed by the process runtime", required=False)
    if settings.runtime not in ENGINE_RUNTIMES:
        return Check("image", True, f"not checked for runtime {settings.runtime}", required=False)
    engine = find_engine(settings.container_socket, settings.runtime)
    if image_exists(engine, settings.image):
        return Check("image", True, settings.image)
    return Check("image", False, f"{settings.image} is not built", "Run: pynchy agent image build")


def _plugins(c: Context) -> Check:
    from pynchy_cli.core.plugins.manager import plugins_for

    plugins = plugins_for(c.settings)
    broken = plugins.broken
    third = [i for i in plugins.infos.values() if not i.builtin]
    enabled = [i.name for i in third if i.enabled]
    off = [i.name for i in third if not i.enabled and not i.error]
    detail = f"{len(enabled)} enabled" + (f": {', '.join(enabled)}" if enabled else "")
    if off:
        detail += f"; {len(off)} disabled: {', '.join(off)}"
    if not broken:
        return Check("plugins", True, detail, required=False)
    names = ", ".join(f"{i.name} ({i.error})" for i in broken)
    fixes = "; ".join(f"pynchy plugin uninstall {i.source}" for i in broken if not i.builtin)
    return Check(
        "plugins",
        False,
        f"{detail}; broken: {names}",
        f"Uninstall them: {fixes}" if fixes else None,
        required=False,
    )


def _model(c: Context) -> Check:
    choice = choose_model(c.settings)
    who = f" (account {choice.account})" if choice.account else ""
    return Check("model", True, f"{choice.spec}{who}")


def _scaling(c: Context) -> Check:
    from pynchy_cli.core.scaling.report import doctor_line

    ok, detail, fix = doctor_line(c)
    return Check("scaling", ok, detail, fix, required=c.settings.scaling == "ray")


CHECKS: list[tuple[str, Callable[[Context], Check]]] = [
    ("python", _python),
    ("config", _config),
    ("data folder", _data_folder),
    ("database", _database),
    ("file modes", _file_modes),
    ("runtime", _runtime),
    ("image", _image),
    ("plugins", _plugins),
    ("model", _model),
    ("scaling", _scaling),
]


# A check that cannot run when the one before it failed: what to say instead.
NEEDS_PREVIOUS = {
    "database": ("not checked: no usable data folder", True),
    "image": ("not checked: no container runtime", False),
}


def run_checks(c: Context) -> list[Check]:
    results: list[Check] = []
    for name, fn in CHECKS:
        if name in NEEDS_PREVIOUS and not results[-1].ok:
            detail, required = NEEDS_PREVIOUS[name]
            results.append(Check(name, False, detail, required=required))
            continue
        try:
            results.append(fn(c))
        except PynchyError as exc:
            results.append(Check(name, False, exc.message, exc.hint))
    return results + _model_server_checks(c) + _channel_checks(c)


def _model_server_checks(c: Context) -> list[Check]:
    """Each account with a base_url (a local model server): does it answer, listing the
    models in use? (core.agent_cores.model_servers)"""
    from pynchy_cli.core.agent_cores.model_servers import check_model_servers
    from pynchy_cli.core.groups import list_groups

    try:
        settings = c.settings
        groups = list_groups(c.db)
    except PynchyError:
        return []  # the config or database check already reported it
    return [
        Check(f"model server {f.account}", f.ok, f.detail, f.fix, required=f.required)
        for f in check_model_servers(settings, groups)
    ]


def _channel_checks(c: Context) -> list[Check]:
    """What the enabled plugins' pynchy_doctor hooks report (offline): one line per
    problem, with the fix; a channel of a plugin that checks and finds nothing wrong is
    "credentials configured". A channel whose plugin has no such hook (the terminal
    channel too) is checked by building it: its factory must not fail. MCP servers are
    checked by starting them (`_mcp_checks`)."""
    from pynchy_cli.core.plugins.manager import plugins_for

    try:
        settings = c.settings
        plugins = plugins_for(settings)
    except PynchyError:
        return []  # the config check already reported it
    checks = []
    answers = plugins.doctor_problems(settings)
    for plugin, problems in sorted(answers.items()):
        info = plugins.infos[plugin]
        for name in sorted(info.registered.get("channels", [])):
            if not any(p.kind == "channel" and p.name == name for p in problems):
                checks.append(Check(f"channel {name}", True, "credentials configured"))
        for problem in problems:
            checks.append(Check(f"{problem.kind} {problem.name}", False, problem.what, problem.fix))
    for name, factory in plugins.registry.channels.items():
        owner = plugins.registry.owners.get(("channel", name), "?")
        if owner not in answers:
            checks.append(_channel_builds(name, owner, factory, settings))
    reported = {(p.kind, p.name) for problems in answers.values() for p in problems}
    checks += _mcp_checks(settings, plugins.registry.mcp_servers, reported)
    return sorted(checks, key=lambda check: check.name)


def _channel_builds(name: str, owner: str, factory: Callable[..., object], settings) -> Check:
    """A channel without a doctor hook: does its factory build it? (It is not started.)"""
    try:
        factory(settings)
    except Exception as exc:  # a plugin's factory: whatever it raises is the finding
        why = exc.line() if isinstance(exc, PynchyError) else f"{type(exc).__name__}: {exc}"
        fix = None if owner == "builtins" else f"See: pynchy plugin info {owner}"
        return Check(f"channel {name}", False, f"cannot be built: {why}", fix)
    return Check(f"channel {name}", True, "builds (no credentials to check)")


MCP_TIMEOUT = 15.0  # seconds each MCP server has to start and list its tools


def _mcp_checks(settings, registered: list, reported: set[tuple[str, str]]) -> list[Check]:
    """Each MCP server agents could use (config.toml's and plugins'), started for a moment:
    does it answer, and with which tools? Servers run concurrently, each bounded by
    MCP_TIMEOUT; those a plugin's doctor hook already reported are left to its report."""
    import asyncio

    from pynchy_cli.core.plugins.mcp import declared_servers

    servers, warnings = declared_servers(settings, registered)
    checks = [Check("mcp config", False, w, "Fix it in config.toml") for w in warnings]
    servers = [s for s in servers if ("mcp", s.name) not in reported]
    if servers:
        configured = set(getattr(settings, "mcp", {}) or {})
        checks += asyncio.run(_probe_all(servers, configured, settings))
    return checks


async def _probe_all(servers: list, configured: set[str], settings=None) -> list[Check]:
    import asyncio

    from pynchy_cli.core.plugins.mcp_host import McpUnavailable, probe

    async def one(server) -> Check:
        name = f"mcp {server.name}"
        if server.name in configured:
            fix = f"Check [mcp.{server.name}] in config.toml (command or url, env)"
        else:
            fix = f"See its plugin: pynchy plugin list (MCP server {server.name})"
        try:
            tools, warnings = await probe(server, MCP_TIMEOUT, settings)
        except McpUnavailable as exc:
            return Check(name, False, f"did not start: {exc}", fix)
        if not tools:
            return Check(name, False, "answers, but offers no tools", fix, required=False)
        names = ", ".join(t.tool for t in tools[:8]) + (", ..." if len(tools) > 8 else "")
        detail = f"{len(tools)} tool(s): {names}"
        if warnings:
            return Check(name, False, f"{detail}; {'; '.join(warnings)}", fix, required=False)
        return Check(name, True, detail)

    return list(await asyncio.gather(*(one(s) for s in servers)))
