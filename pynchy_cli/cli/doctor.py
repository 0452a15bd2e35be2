"""`pynchy doctor`: check this installation and say how to fix what is missing."""

from __future__ import annotations

import typer
from rich.markup import escape

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import console, emit_json


def doctor(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Check what pynchy needs, and say how to fix what is missing.

    Python, config, data folder, database, runtime, image, plugins, model, channels and
    MCP servers (each started for a moment to list its tools)."""
    from pynchy_cli.core.doctor import run_checks

    checks = run_checks(context(ctx, check=False))
    failed = [c for c in checks if not c.ok and c.required]
    if as_json:
        emit_json([c.as_dict() for c in checks])
    else:
        width = max(len(c.name) for c in checks)
        for check in checks:
            mark = "ok" if check.ok else ("FAIL" if check.required else "warn")
            style = "green" if check.ok else ("red" if check.required else "yellow")
            line = f"[{style}]{mark:>4}[/{style}]  {check.name:<{width}} {escape(check.detail)}"
            if check.fix:
                line += f"\n{'':>{width + 7}}fix: {escape(check.fix)}"
            console.print(line, markup=True, soft_wrap=True)
        if failed:
            console.print(f"{len(failed)} problem(s) found.")
    if failed:
        raise typer.Exit(1)
