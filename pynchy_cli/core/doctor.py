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


CHECKS: list[tuple[str, Callable[[Context], Check]]] = [
    ("python", _python),
    ("config", _config),
    ("database", _database),
    ("file modes", _file_modes),
    ("runtime", _runtime),
    ("image", _image),
    ("plugins", _plugins),
    ("model", _model),
]


def run_checks(c: Context) -> list[Check]:
    results: list[Check] = []
    for name, fn in CHECKS:
        if name == "image" and not results[-1].ok:
            results.append(Check(name, False, "not checked: no container runtime", required=False))
            continue
        try:
            results.append(fn(c))
        except PynchyError as exc:
            results.append(Check(name, False, exc.message, exc.hint))
    return results + _channel_checks(c)


def _channel_checks(c: Context) -> list[Check]:
    """What the enabled plugins' pynchy_doctor hooks report (offline): one line per
    problem, with the fix; a channel of a plugin that checks and finds nothing wrong is
    "credentials configured"."""
    from pynchy_cli.core.plugins.manager import plugins_for

    try:
        plugins = plugins_for(c.settings)
    except PynchyError:
        return []  # the config check already reported it
    checks = []
    for plugin, problems in sorted(plugins.doctor_problems(c.settings).items()):
        info = plugins.infos[plugin]
        for name in sorted(info.registered.get("channels", [])):
            if not any(p.kind == "channel" and p.name == name for p in problems):
                checks.append(Check(f"channel {name}", True, "credentials configured"))
        for problem in problems:
            checks.append(Check(f"{problem.kind} {problem.name}", False, problem.what, problem.fix))
    return sorted(checks, key=lambda check: check.name)
