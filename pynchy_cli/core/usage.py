"""The cost ledger as `pynchy usage` reads it: runs, tokens and cost from the runs table,
grouped by account, group, model or local day.

Every run is in the runs table (delegated and scheduled ones too), with what it spent.
A run whose model has no known price has cost_usd null: such runs are counted apart
(`unknown_cost_runs`) and never summed as zero.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.errors import UsageError
from pynchy_cli.core.policy.audit_log import parse_since as parse_age_or_time

GROUPINGS = {
    "account": "coalesce(runs.account, '-')",
    "group": "groups.name",
    "model": "coalesce(runs.model, '-')",
    "day": "date(runs.started_at, 'localtime')",
}
_NAMED_DAYS = {"today": 0, "yesterday": 1}


def parse_since(text: str) -> str:
    """An ISO UTC timestamp from `today`, `yesterday`, an ISO date or time (local when no
    zone is given) or an age such as 30m, 2h, 7d, 1w."""
    named = _NAMED_DAYS.get(text.strip().lower())
    if named is None:
        try:
            return parse_age_or_time(text)
        except UsageError:
            raise UsageError(
                f"bad --since {text!r}",
                "Use today, yesterday, an ISO date or time such as 2026-11-01, "
                "or an age such as 2h, 7d",
            ) from None
    day = datetime.now(UTC).astimezone().date() - timedelta(days=named)
    start = datetime(day.year, day.month, day.day).astimezone()
    return start.astimezone(UTC).isoformat(timespec="microseconds")


def totals(db: Database, by: str, since: str | None = None) -> list[dict[str, Any]]:
    """One row per account, group, model or day, ordered by the key: runs, input and output
    tokens, the known cost in USD (None when every run's price is unknown) and the number
    of runs whose cost is unknown."""
    if by not in GROUPINGS:
        raise UsageError(f"cannot group usage by {by!r}", f"Use one of: {', '.join(GROUPINGS)}")
    where, params = ("where runs.started_at >= ?", [since]) if since else ("", [])
    rows = db.query(
        f"select {GROUPINGS[by]} as key, count(*) as runs,"
        " coalesce(sum(runs.input_tokens), 0) as input_tokens,"
        " coalesce(sum(runs.output_tokens), 0) as output_tokens,"
        " sum(runs.cost_usd) as cost_usd,"
        " sum(runs.cost_usd is null) as unknown_cost_runs"
        " from runs join groups on groups.id = runs.group_id"
        f" {where} group by key order by key",
        params,
    )
    return [{by: row.pop("key"), **row} for row in rows]


def grand_total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The sum of totals() rows; cost None when no run's price is known."""
    known = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    return {
        "runs": sum(r["runs"] for r in rows),
        "input_tokens": sum(r["input_tokens"] for r in rows),
        "output_tokens": sum(r["output_tokens"] for r in rows),
        "cost_usd": sum(known) if known else None,
        "unknown_cost_runs": sum(r["unknown_cost_runs"] for r in rows),
    }


def cost_text(cost: float | None, unknown_runs: int = 0) -> str:
    """`$1.2345`, `unknown`, or `$1.2345 + unknown (2 runs)` when part is unpriced."""
    if cost is None:
        return "unknown"
    text = f"${cost:,.4f}"
    if unknown_runs:
        text += f" + unknown ({unknown_runs} run{'s' if unknown_runs != 1 else ''})"
    return text
