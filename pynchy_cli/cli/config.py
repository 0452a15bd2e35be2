"""`pynchy config`: where the configuration lives and what it resolves to."""

from __future__ import annotations

import json
import re
from typing import Any

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_json, emit_mapping, neutralise, warn

app = typer.Typer(no_args_is_help=True, help="Show the configuration and where it lives.")

# Settings made of named tables: [accounts.NAME], [plugin.NAME], [mcp.NAME], [profiles.NAME]
_NAMED_TABLES = ("accounts", "plugin", "mcp", "profiles")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the effective settings in config.toml's own layout, secrets masked.

    Defaults < config.toml < PYNCHY_* < flags. An unknown runtime is a warning here and an
    error for the commands that run agents (agent run, serve, doctor)."""
    from pynchy_cli.core.config import masked
    from pynchy_cli.core.errors import PynchyError
    from pynchy_cli.core.runtimes.select import runtime_factory

    settings = context(ctx).settings
    data = masked(settings)
    if as_json:
        emit_json(data)
    else:
        print(neutralise("\n".join(settings_as_toml(data))))
    try:
        runtime_factory(settings)
    except PynchyError as exc:
        warn(exc.line())


def settings_as_toml(data: dict[str, Any]) -> list[str]:
    """Settings as TOML lines: scalars first, then [TABLE] and [TABLE.NAME] sections.
    Unset values (TOML has no null) are comments: `# model: not set`."""
    lines = _pairs(data)
    for key, value in data.items():
        if not isinstance(value, dict):
            continue
        if key in _NAMED_TABLES:
            for name, table in value.items():
                lines += ["", f"[{_key(key)}.{_key(name)}]", *_pairs(table, inline=True)]
        else:
            lines += ["", f"[{_key(key)}]", *_pairs(value, inline=True)]
    return lines


def _pairs(table: dict[str, Any], *, inline: bool = False) -> list[str]:
    lines = []
    for key, value in table.items():
        if value is None:
            lines.append(f"# {key}: not set")
        elif inline or not isinstance(value, dict):
            lines.append(f"{_key(key)} = {_value(value)}")
    return lines


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        shown = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + shown + " }"
    return json.dumps(str(value), ensure_ascii=False)


@app.command("path")
def path(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the config file, data folder and database paths."""
    p = context(ctx, check=False).paths  # works with a broken config: shows where it is
    emit_mapping(
        {
            "config_file": str(p.config_file),
            "config_dir": str(p.config_dir),
            "data_dir": str(p.data_dir),
            "database": str(p.database),
            "groups_dir": str(p.groups_dir),
            "logs_dir": str(p.logs_dir),
        },
        as_json=as_json,
    )
