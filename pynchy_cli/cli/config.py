"""`pynchy config`: where the configuration lives and what it resolves to."""

from __future__ import annotations

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_json, emit_mapping
from pynchy_cli.core.config import masked

app = typer.Typer(no_args_is_help=True, help="Show the configuration and where it lives.")


@app.command("show")
def show(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the effective settings (defaults < config.toml < PYNCHY_* < flags), secrets masked."""
    data = masked(context(ctx).settings)
    if as_json:
        emit_json(data)
        return
    flat: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = subvalue
        elif not isinstance(value, dict):
            flat[key] = value
    emit_mapping(flat)


@app.command("path")
def path(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show the config file, data folder and database paths."""
    p = context(ctx).paths
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
