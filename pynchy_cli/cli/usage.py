"""`pynchy usage`: what agents spent, from the runs table, by account, group, model or day."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import console, emit_json, err_console, neutralise

BAR_WIDTH = 10


def usage(
    ctx: typer.Context,
    by: str = typer.Option(
        "day", "--by", "-b", help="Group the totals by account, group, model or day."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only runs since today, yesterday, an ISO date or time, or 2h, 7d."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Runs, tokens and cost per account, group, model or day.

    Delegated and scheduled runs included. A model without a known price counts as
    unknown, not $0."""
    from pynchy_cli.core import usage as core

    after = core.parse_since(since) if since else None  # a bad value fails first
    rows = core.totals(context(ctx).db, by, after)
    total = core.grand_total(rows)
    if as_json:
        emit_json({"by": by, "since": after, "rows": rows, "total": total})
        return
    if not rows:
        err_console.print("no runs" + (" since then" if since else " yet"))
        return
    if console.is_terminal:
        console.print(_chart(by, rows, total))
    else:
        _plain(by, rows, total)


def _cells(row: dict[str, Any]) -> list[str]:
    from pynchy_cli.core import usage as core

    return [
        str(row["runs"]),
        f"{row['input_tokens']:,}",
        f"{row['output_tokens']:,}",
        core.cost_text(row["cost_usd"], row["unknown_cost_runs"]),
    ]


def _chart(by: str, rows: list[dict[str, Any]], total: dict[str, Any]) -> Table:
    """A table with a bar per row: cost when any is known, else tokens."""
    measure = "cost" if total["cost_usd"] else "tokens"

    def size(row: dict[str, Any]) -> float:
        if measure == "cost":
            return row["cost_usd"] or 0.0
        return row["input_tokens"] + row["output_tokens"]

    top = max((size(r) for r in rows), default=0) or 1
    table = Table(header_style="bold", show_footer=True)
    table.add_column(by, footer="total")
    for name, footer in zip(("runs", "input", "output", "cost"), _cells(total), strict=True):
        table.add_column(name, justify="right", footer=footer, no_wrap=True)
    table.add_column(f"by {measure}", no_wrap=True, overflow="crop")
    for row in rows:
        bar = "█" * round(BAR_WIDTH * size(row) / top)
        if measure == "cost" and row["cost_usd"] is None:
            bar = "?"  # no known price: no length to draw
        key = neutralise(str(row[by]))  # names come from config and the database
        table.add_row(Text(key), *(Text(c) for c in _cells(row)), Text(bar, style="cyan"))
    return table


def _plain(by: str, rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
    print("\t".join([by, "runs", "input_tokens", "output_tokens", "cost_usd"]))
    for row in [*rows, {by: "total", **total}]:
        key = neutralise(str(row[by])).replace("\t", " ")
        print("\t".join([key, *(c.replace(",", "") for c in _cells(row))]))
