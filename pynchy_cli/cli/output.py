"""Rendering: rich tables on a terminal, tab-separated text when piped, JSON on --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def emit_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    *,
    as_json: bool = False,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    rows = list(rows)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err_console.print(empty)
        return
    if console.is_terminal:
        table = Table(title=title, header_style="bold")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        console.print(table)
    else:
        print("\t".join(columns))
        for row in rows:
            print("\t".join(_cell(row.get(c)).replace("\t", " ") for c in columns))


def emit_mapping(data: dict[str, Any], *, as_json: bool = False) -> None:
    if as_json:
        emit_json(data)
        return
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        if console.is_terminal:
            console.print(f"[bold]{key:<{width}}[/bold]  {_cell(value)}")
        else:
            print(f"{key:<{width}}  {_cell(value)}")


def success(message: str) -> None:
    err_console.print(
        f"[green]✓[/green] {message}" if err_console.is_terminal else message, soft_wrap=True
    )


def warn(message: str) -> None:
    err_console.print(f"[yellow]pynchy: warning:[/yellow] {message}", markup=True, soft_wrap=True)
