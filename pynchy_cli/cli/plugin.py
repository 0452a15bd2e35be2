"""`pynchy plugin`: list, inspect, install, remove, enable, disable and scaffold plugins."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import typer.main

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_json, emit_mapping, emit_table, err_console, success, warn
from pynchy_cli.core.plugins import scaffold

if TYPE_CHECKING:
    from pynchy_cli.core.plugins.manager import Plugins

app = typer.Typer(
    no_args_is_help=True,
    help="Plugins: runtimes, channels, agent cores, MCP servers, skills, hooks and commands.",
)


def _plugins(ctx: typer.Context) -> Plugins:
    from pynchy_cli.core.plugins.manager import plugins_for

    return plugins_for(context(ctx).settings)


def _row(info: Any) -> dict[str, Any]:
    row = info.as_dict()
    row["kinds"] = ", ".join(info.kinds) or "-"
    return row


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List plugins: built-in and installed, enabled or not.

    Broken ones are listed too, with a warning that says how to remove them."""
    plugins = _plugins(ctx)
    infos = list(plugins.infos.values())
    if as_json:
        emit_json([i.as_dict() for i in infos])
        return
    emit_table([_row(i) for i in infos], ["name", "version", "kinds", "status", "source"])


@app.command("info")
def info(ctx: typer.Context, name: str, as_json: bool = JSON_OPTION) -> None:
    """Show one plugin and what it registered.

    Runtimes, channels, agent cores, MCP servers, skills, lifecycle hooks and commands."""
    from pynchy_cli.core.errors import NotFoundError

    plugins = _plugins(ctx)
    found = plugins.get(name)
    if found is None:
        raise NotFoundError(f"no plugin {name!r}", "See: pynchy plugin list")
    data = found.as_dict()
    commands = _command_names(plugins, found.name)
    if commands:
        data["registered"]["commands"] = commands
    if as_json:
        emit_json(data)
        return
    shown: dict[str, Any] = {
        "name": found.name,
        "version": found.version,
        "source": found.source,
        "module": found.module or "-",
        "status": found.status,
        "kinds": ", ".join(found.kinds) or "-",
    }
    if found.error:
        shown["error"] = found.error
    for kind, names in data["registered"].items():
        shown[kind.replace("_", " ")] = ", ".join(names)
    emit_mapping(shown)


@app.command("install")
def install(
    specs: list[str] = typer.Argument(..., help="Package names, paths (./DIR) or URLs."),
    editable: bool = typer.Option(False, "--editable", "-e", help="Install a folder editable."),
    upgrade: bool = typer.Option(False, "--upgrade", "-U", help="Upgrade if installed."),
    no_build_isolation: bool = typer.Option(
        False,
        "--no-build-isolation",
        help="Build with the backend already in pynchy's environment (works offline).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show pip's output."),
) -> None:
    """Install plugins into pynchy's own environment (python -m pip install)."""
    from pynchy_cli.core.plugins import admin

    on_line = (
        (lambda line: err_console.print(line, markup=False, highlight=False)) if verbose else None
    )
    result = admin.install(
        specs,
        editable=editable,
        upgrade=upgrade,
        no_build_isolation=no_build_isolation,
        on_line=on_line,
    )
    status = admin.fresh_status()  # as the next `pynchy` will load them
    shown: set[str] = set()
    added = {f.name for f in result.added}
    for dist in result.asked:
        provided = admin.provided_by(dist)
        if not provided:
            warn(f"{dist} adds no pynchy plugin (it has no 'pynchy' entry point)")
        for found in provided:
            verb = "reinstalled" if dist in result.installed else "already installed"
            verb = "installed" if found.name in added else verb
            _report_installed(found, status.get(found.name), verb)
            shown.add(found.name)
    for found in result.added:  # plugins that came as dependencies
        if found.name not in shown:
            _report_installed(found, status.get(found.name), "installed")
            shown.add(found.name)
    if not shown and not result.asked:
        warn(f"installed {' '.join(specs)}, but it adds no pynchy plugin (no 'pynchy' entry point)")


def _report_installed(found: Any, info: dict[str, Any] | None, verb: str) -> None:
    kinds = ", ".join(info["kinds"]) if info and info["kinds"] else "-"
    state = info["status"] if info else "?"
    success(f"{verb} plugin {found.name} {found.version} from {found.dist} ({kinds}; {state})")
    if info and info.get("error"):
        warn(
            f"plugin {found.name} cannot be used: {info['error']}; "
            f"uninstall it with: pynchy plugin uninstall {found.dist}"
        )


@app.command("uninstall")
def uninstall(
    name: str = typer.Argument(..., help="A plugin name or the distribution that provides it."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show pip's output."),
) -> None:
    """Uninstall the distribution that provides a plugin (python -m pip uninstall)."""
    from pynchy_cli.core.plugins import admin

    dist, provided = admin.distribution_of(name)
    on_line = (
        (lambda line: err_console.print(line, markup=False, highlight=False)) if verbose else None
    )
    admin.uninstall(name, on_line=on_line)
    names = ", ".join(f.name for f in provided)
    success(f"uninstalled {dist} (plugin {names})")


@app.command("enable")
def enable(ctx: typer.Context, name: str) -> None:
    """Enable a plugin: drop [plugin.NAME] enabled = false from config.toml."""
    from pynchy_cli.core.plugins import admin
    from pynchy_cli.core.plugins.manager import ALLOW_ENV, allow_list

    found = admin.known_plugin(name)
    config_file = context(ctx).paths.config_file
    changed = admin.set_enabled(config_file, found.name, True)
    allowed = allow_list()
    success(f"enabled plugin {found.name}" + ("" if changed else " (it was not disabled)"))
    if allowed is not None and not ({found.name, found.dist} & allowed):
        warn(f"{ALLOW_ENV} does not list {found.name}, so it stays off until it does")


@app.command("disable")
def disable(ctx: typer.Context, name: str) -> None:
    """Disable a plugin without uninstalling it: [plugin.NAME] enabled = false."""
    from pynchy_cli.core.plugins import admin

    found = admin.known_plugin(name)
    config_file = context(ctx).paths.config_file
    changed = admin.set_enabled(config_file, found.name, False)
    success(f"disabled plugin {found.name} in {config_file}" + ("" if changed else " (already)"))


@app.command("new")
def new(
    name: str = typer.Argument(..., help="Plugin name, e.g. weather (package pynchy-weather)."),
    kind: str = typer.Option(..., "--kind", "-k", help=f"One of: {', '.join(scaffold.KINDS)}."),
    directory: Path | None = typer.Option(
        None, "--dir", help="Where to create it (default: ./pynchy-NAME)."
    ),
) -> None:
    """Create a plugin package: pyproject with the entry point, a module, README, tests."""
    names, files = scaffold.create(name, kind, directory)
    root = files[0]
    for path in files[1:]:
        err_console.print(f"  {path.relative_to(root)}", markup=False, highlight=False)
    relative = os.path.relpath(root)
    where = str(root) if relative.startswith("..") else os.path.join(".", relative)
    success(f"created {names.dist} ({kind}) in {root}")
    err_console.print(
        f"Next: pynchy plugin install -e {where} && python -m pytest {where}/tests",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


# --- the `commands` kind: plugins add to the root CLI ---------------------------------------


def _settings_or_none() -> Any:
    """What plugins_for needs of the settings, config.toml's [plugin.NAME] tables (which
    disable plugins), read without validating the whole config: that would double the
    time of `pynchy --help`. None when config.toml cannot be read."""
    import tomllib
    from types import SimpleNamespace

    from pynchy_cli.core.paths import resolve_paths

    try:
        path = resolve_paths().config_file
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        return None
    tables = data.get("plugin")
    return SimpleNamespace(plugin=tables if isinstance(tables, dict) else {})


def _names(sub: typer.Typer) -> list[str]:
    names = []
    for command in sub.registered_commands:
        callback = command.callback
        names.append(command.name or typer.main.get_command_name(callback.__name__))
    for group in sub.registered_groups:
        name = group.name or group.typer_instance.info.name
        if not isinstance(name, str) or not name:
            raise ValueError("a command group without a name (give add_typer a name=)")
        names.append(name)
    return names


def _collect(impl: Any) -> tuple[typer.Typer, list[str]]:
    """Call one plugin's pynchy_commands on a scratch app; check that it builds."""
    scratch = typer.Typer()
    impl.function(scratch)
    names = _names(scratch)
    if names:
        typer.main.get_group(_with_callback(scratch))  # raises if Typer cannot build it
    return scratch, names


def _with_callback(scratch: typer.Typer) -> typer.Typer:
    probe = typer.Typer()
    probe.registered_commands = list(scratch.registered_commands)
    probe.registered_groups = list(scratch.registered_groups)
    probe.callback()(lambda: None)
    return probe


def _command_names(plugins: Plugins, name: str) -> list[str]:
    for impl in plugins.pm.hook.pynchy_commands.get_hookimpls():
        if impl.plugin_name == name:
            try:
                return _collect(impl)[1]
            except Exception:
                return []
    return []


def add_plugin_commands(root: typer.Typer) -> None:
    """Add the commands of enabled `commands` plugins to the root CLI. A plugin whose hook
    fails, or whose command would replace a built-in one, is reported and left out."""
    from pynchy_cli.core.plugins.manager import plugins_for

    settings = _settings_or_none()
    if settings is None:  # an unreadable config: the command run will say so itself
        return
    try:
        plugins = plugins_for(settings)
    except Exception as exc:  # never let plugins stop the CLI
        warn(f"plugins not loaded: {type(exc).__name__}: {exc}")
        return
    taken = set(_names(root))
    for impl in plugins.pm.hook.pynchy_commands.get_hookimpls():
        info = plugins.infos.get(impl.plugin_name)
        if info is None or not info.enabled:
            continue
        try:
            scratch, names = _collect(impl)
        except Exception as exc:
            plugins.warn(
                f"plugin {info.name} commands not added: {type(exc).__name__}: {exc}; "
                f"{info.uninstall_hint()}"
            )
            continue
        clash = sorted(set(names) & taken)
        if clash:
            plugins.warn(f"plugin {info.name} commands not added: {', '.join(clash)} already exist")
            continue
        root.registered_commands.extend(scratch.registered_commands)
        root.registered_groups.extend(scratch.registered_groups)
        taken.update(names)
        info.registered["commands"] = names


def plugin_commands(root: typer.Typer) -> dict[str, Any]:
    """add_plugin_commands, then the click commands of what it added: for a root group that
    was built before the plugins were loaded."""
    from importlib.metadata import entry_points

    if not entry_points(group="pynchy"):  # the manager's ENTRY_POINT_GROUP: only installed
        return {}  # plugins can add commands, and loading the manager costs ~60 ms
    before_commands, before_groups = len(root.registered_commands), len(root.registered_groups)
    add_plugin_commands(root)
    probe = typer.Typer()
    probe.registered_commands = root.registered_commands[before_commands:]
    probe.registered_groups = root.registered_groups[before_groups:]
    if not probe.registered_commands and not probe.registered_groups:
        return {}
    probe.callback()(lambda: None)
    return dict(typer.main.get_group(probe).commands)
