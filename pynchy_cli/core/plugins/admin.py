"""Installing, removing, enabling and disabling plugins.

Plugins install into pynchy's own environment (`sys.executable -m pip`), so the `pynchy`
command finds them through their entry points. Enabling and disabling edits
`[plugin.NAME] enabled` in config.toml with tomlkit, which keeps comments and layout.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pynchy_cli.core.config_file import named_table, read_document, write_document
from pynchy_cli.core.errors import ConfigError, NotFoundError, UnavailableError, UsageError
from pynchy_cli.core.plugins.manager import (
    BUILTIN_PLUGINS,
    Found,
    entry_points,
    reset_plugins,
)

OnLine = Callable[[str], None]


@dataclass
class PipResult:
    argv: list[str]
    tail: list[str]  # the last lines pip printed
    added: list[Found]  # plugins new or changed by the install
    removed: list[Found]  # plugins gone after it
    asked: list[str] = field(default_factory=list)  # the distributions the specs named
    installed: list[str] = field(default_factory=list)  # of those, what pip (re)installed


def pip_argv(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "pip", *args]


def _run_pip(args: Sequence[str], on_line: OnLine | None) -> tuple[int, list[str], list[str]]:
    argv = pip_argv(args)
    tail: deque[str] = deque(maxlen=40)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env,
        )
    except OSError as exc:
        raise UnavailableError(
            f"cannot run pip with {sys.executable} ({exc.strerror})",
            "Install pip into pynchy's environment: python -m ensurepip",
        ) from exc
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        tail.append(line)
        if on_line is not None:
            on_line(line)
    return proc.wait(), argv, list(tail)


def _snapshot() -> dict[str, Found]:
    importlib.invalidate_caches()
    return {f.name: f for f in entry_points()}


def _diff(before: dict[str, Found], after: dict[str, Found]) -> tuple[list[Found], list[Found]]:
    added = [
        f
        for name, f in after.items()
        if name not in before or (before[name].dist, before[name].version) != (f.dist, f.version)
    ]
    removed = [f for name, f in before.items() if name not in after]
    return added, removed


def _pip_error(what: str, tail: list[str]) -> UnavailableError:
    last = next(
        (ln.strip() for ln in reversed(tail) if ln.strip().startswith("ERROR")),
        next((ln.strip() for ln in reversed(tail) if ln.strip()), "no output"),
    )
    return UnavailableError(
        f"pip could not {what}: {last.removeprefix('ERROR: ')}",
        "Run again with --verbose to see pip's output",
    )


def install(
    specs: Sequence[str],
    *,
    editable: bool = False,
    upgrade: bool = False,
    no_build_isolation: bool = False,
    on_line: OnLine | None = None,
) -> PipResult:
    """pip install SPEC... into pynchy's environment. A SPEC that names an existing folder
    or file is passed as an absolute path."""
    if not specs:
        raise UsageError("nothing to install", "Give a package name, a path or a URL")
    args = ["install"]
    if upgrade:
        args.append("--upgrade")
    if no_build_isolation:
        args.append("--no-build-isolation")
    for spec in specs:
        local = Path(spec).expanduser()
        value = str(local.resolve()) if local.exists() else spec
        if editable:
            if not local.is_dir():
                raise UsageError(f"--editable needs a folder, not {spec!r}", "Give ./DIR")
            args += ["--editable", value]
        else:
            args.append(value)
    before = _snapshot()
    with tempfile.TemporaryDirectory(prefix="pynchy-pip-") as tmp:
        report = Path(tmp) / "report.json"
        code, argv, tail = _run_pip([*args, "--report", str(report)], on_line)
        installed = _requested_in(report)
    reset_plugins()
    if code != 0:
        raise _pip_error(f"install {' '.join(specs)}", tail)
    added, removed = _diff(before, _snapshot())
    asked = list(dict.fromkeys([*installed, *(d for d in map(_dist_named_by, specs) if d)]))
    return PipResult(argv, tail, added, removed, asked, installed)


def _requested_in(report: Path) -> list[str]:
    """The distributions pip installed because a spec asked for them (pip --report)."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        return [i["metadata"]["name"] for i in data.get("install", []) if i.get("requested")]
    except (OSError, ValueError, KeyError, TypeError):
        return []


_REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([<>=!~;@]|$)")


def _dist_named_by(spec: str) -> str | None:
    """The distribution a spec names when pip had nothing to do ('already satisfied'): a
    requirement's name, or a local project's [project] name. None for what cannot tell."""
    local = Path(spec).expanduser()
    if local.is_dir():
        try:
            import tomllib

            data = tomllib.loads((local / "pyproject.toml").read_text(encoding="utf-8"))
            name = data.get("project", {}).get("name")
            return name if isinstance(name, str) else None
        except (OSError, ValueError):
            return None
    if local.exists() or "/" in spec or "\\" in spec:  # a file or a URL: pip's report says
        return None
    match = _REQUIREMENT_NAME.match(spec.strip())
    return match.group(1) if match else None


def provided_by(dist: str) -> list[Found]:
    """The plugins a distribution provides (its `pynchy` entry points)."""
    wanted = _normalize(dist)
    return [f for f in entry_points() if _normalize(f.dist) == wanted]


# Run by fresh_status in a new Python: plugins as a new `pynchy` process sees them.
_STATUS_SCRIPT = """
from pynchy_cli.core.plugins.admin import print_status
print_status()
"""


def fresh_status() -> dict[str, dict]:
    """Each plugin's info (name -> PluginInfo.as_dict()) as a new pynchy process loads it.
    Checked in a new process because this one cannot see everything an install changed:
    an editable install's .pth file is read only when Python starts, and a module this
    process imported before stays the old one."""
    proc = subprocess.run(
        [sys.executable, "-c", _STATUS_SCRIPT],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
    )
    try:
        return {info["name"]: info for info in json.loads(proc.stdout)}
    except ValueError:
        return {}


def print_status() -> None:
    """The plugins' infos as JSON on stdout (see fresh_status)."""
    from pynchy_cli.core.context import Context
    from pynchy_cli.core.plugins.manager import plugins_for

    try:
        settings = Context().settings
    except Exception:  # an invalid config: the plugins as they are without it
        settings = None
    infos = plugins_for(settings).infos.values()
    print(json.dumps([i.as_dict() for i in infos]))


def distribution_of(name: str) -> tuple[str, list[Found]]:
    """The distribution behind a plugin name (or a distribution name), and its plugins."""
    if name in BUILTIN_PLUGINS:
        raise UsageError(f"{name} is part of pynchy", "Built-in plugins cannot be uninstalled")
    found = entry_points()
    wanted = _normalize(name)
    dist = next((f.dist for f in found if f.name == name), None)
    if dist is None:
        dist = next((f.dist for f in found if _normalize(f.dist) == wanted), None)
    if dist is None:
        raise NotFoundError(f"no plugin {name!r} is installed", "See: pynchy plugin list")
    return dist, [f for f in found if f.dist == dist]


def uninstall(name: str, *, on_line: OnLine | None = None) -> PipResult:
    dist, _plugins = distribution_of(name)
    before = _snapshot()
    code, argv, tail = _run_pip(["uninstall", "--yes", dist], on_line)
    reset_plugins()
    if code != 0:
        raise _pip_error(f"uninstall {dist}", tail)
    added, removed = _diff(before, _snapshot())
    return PipResult(argv, tail, added, removed)


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


# --- enable / disable --------------------------------------------------------------------


def known_plugin(name: str) -> Found:
    if name in BUILTIN_PLUGINS:
        raise UsageError(f"{name} is part of pynchy and always enabled", None)
    found = {f.name: f for f in entry_points()}
    if name not in found:
        by_dist = [f for f in found.values() if _normalize(f.dist) == _normalize(name)]
        if len(by_dist) == 1:
            return by_dist[0]
        raise NotFoundError(f"no plugin {name!r} is installed", "See: pynchy plugin list")
    return found[name]


def set_enabled(config_file: Path, name: str, enabled: bool) -> bool:
    """Write [plugin.NAME] enabled = false (disable) or drop it (enable) in config.toml,
    keeping everything else as it was. Returns whether the file changed."""
    doc = read_document(config_file)
    plugin = doc.get("plugin")
    if enabled:
        if plugin is not None and not isinstance(plugin, dict):
            raise ConfigError(f"plugin in {config_file} is not a table", "Make it [plugin.NAME]")
        table = plugin.get(name) if plugin is not None else None
        if table is None or "enabled" not in table:
            return False
        del table["enabled"]
        if not table:
            del plugin[name]
        if not plugin:
            del doc["plugin"]
    else:
        table = named_table(doc, config_file, "plugin", name)
        if table.get("enabled") is False:
            return False
        table["enabled"] = False
    write_document(config_file, doc)
    return True
