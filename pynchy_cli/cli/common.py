"""Helpers shared by the command modules."""

from __future__ import annotations

import typer

from pynchy_cli.core.context import Context

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def context(ctx: typer.Context, *, check: bool = True) -> Context:
    """The pynchy Context the root callback stored (a fresh one if invoked alone). Every
    command that uses pynchy's config or data gets it here, checked: a data folder that
    cannot be used or an invalid config.toml is one error line, whatever the command.
    `check=False` for the commands that report those themselves (doctor, config path)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Context):
        root.obj = Context()
    return root.obj.check() if check else root.obj
