"""Helpers shared by the command modules."""

from __future__ import annotations

import typer

from pynchy_cli.core.context import Context

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def context(ctx: typer.Context) -> Context:
    """The pynchy Context the root callback stored (a fresh one if invoked alone)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Context):
        root.obj = Context()
    return root.obj
