"""Rendering: rich tables on a terminal, tab-separated text when piped, JSON on --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# Characters that would drive the terminal or make text lie about itself, shown as escapes:
# C0 controls but newline and tab (ESC starts CSI/OSC sequences), DEL, C1 controls (0x9b
# is a one-byte CSI) and the bidi embeddings, overrides and isolates.
_UNSAFE = [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_VISIBLE = str.maketrans(
    {**{c: f"\\x{c:02x}" for c in _UNSAFE}, **{c: f"\\u{c:04x}" for c in _BIDI}}
)


def neutralise(text: str) -> str:
    """Text from a message or a run, safe to write to a terminal: every control character
    and escape sequence is shown (ESC as `\\x1b`, U+202E as `\\u202e`), never obeyed."""
    return text.replace("\r\n", "\n").translate(_VISIBLE)


def neutralise_markup(text: str) -> str:
    """neutralise(), then escaped for rich markup: for text inside a markup string."""
    return escape(neutralise(text))


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralise(str(value))


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
            table.add_row(*(Text(_cell(row.get(c))) for c in columns))  # never markup
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
            console.print(f"[bold]{escape(key):<{width}}[/bold]  {escape(_cell(value))}")
        else:
            print(f"{key:<{width}}  {_cell(value)}")


def success(message: str) -> None:
    err_console.print(
        f"[green]✓[/green] {message}" if err_console.is_terminal else message, soft_wrap=True
    )


def warn(message: str) -> None:
    err_console.print(f"[yellow]pynchy: warning:[/yellow] {message}", markup=True, soft_wrap=True)
