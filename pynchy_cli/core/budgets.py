"""Spending caps per group and per account, checked on the host before each model call.

A budget (config.Budget) caps what a group or an account spends per local calendar day
and per month, in USD and/or tokens. Spending is read from the runs table, so delegated
and scheduled runs count too; tokens are input (cached input included) plus output; USD
counts only runs whose price is known (a model without a price is unknown, not free: cap
it in tokens or give it a price in [prices]). An account's budget lives in config
(`[accounts.NAME] budget = {daily_usd = 5}`); a group's is stored with the group
(`pynchy groups set G --budget daily=5usd`).

Budgets.check() refuses a call once a cap is reached (or the call's own input would pass
it); Budgets.warnings() gives one notice per cap and period once 80% of it is spent.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from pynchy_cli.core.config import Budget, Settings
from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import DeniedError, UsageError
from pynchy_cli.core.groups import Group

PERIODS = ("daily", "monthly")
UNITS = ("usd", "tokens")
WARN_AT = 0.8  # share of a cap that earns a warning, once per period
_SPENT = {
    "usd": "coalesce(sum(cost_usd), 0)",
    "tokens": "coalesce(sum(input_tokens + output_tokens), 0)",
}


@dataclass(frozen=True)
class Cap:
    """One limit of one budget: e.g. the daily USD cap of group family."""

    scope: str  # group | account
    name: str  # the group's or the account's name
    period: str  # daily | monthly
    unit: str  # usd | tokens
    limit: float
    runs_key: int | str  # what runs are matched on: groups.id or the account's name

    @property
    def owner(self) -> str:
        return f"{self.scope} {self.name}"

    def amount(self, value: float) -> str:
        return format_amount(value, self.unit)


def format_amount(value: float, unit: str) -> str:
    if unit == "tokens":
        return f"{int(value):,} tokens"
    return f"${value:,.2f}" if value >= 0.1 or value == 0 else f"${value:.4f}"


def period_bounds(period: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Start and end (the reset), in UTC, of the local day or month that holds `now`."""
    day = (now or datetime.now(UTC)).astimezone().date()
    if period == "monthly":
        first = day.replace(day=1)
        following = (
            first.replace(year=first.year + 1, month=1)
            if first.month == 12
            else first.replace(month=first.month + 1)
        )
    else:
        first, following = day, day + timedelta(days=1)
    return _local_midnight(first), _local_midnight(following)


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day).astimezone().astimezone(UTC)


def reset_text(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


# --- the budgets of a group and of an account -----------------------------------------


def group_budget(db: Database, group_id: int) -> Budget | None:
    rows = list(db.query("select budget from groups where id = ?", [group_id]))
    if not rows or not rows[0]["budget"]:
        return None
    return Budget(**json.loads(rows[0]["budget"]))


def set_group_budget(db: Database, group_id: int, budget: Budget | None) -> None:
    data = budget.model_dump(exclude_none=True) if budget else {}
    db["groups"].update(group_id, {"budget": json.dumps(data) if data else None})


def caps_for(db: Database, settings: Settings, group: Group, account: str | None) -> list[Cap]:
    """Every cap that applies to a run of this group paid by this account."""
    owners: list[tuple[str, str, int | str, Budget | None]] = [
        ("group", group.name, group.id, group_budget(db, group.id))
    ]
    if account:
        configured = settings.accounts.get(account)
        owners.append(("account", account, account, configured.budget if configured else None))
    caps = []
    for scope, name, key, budget in owners:
        for period in PERIODS:
            for unit in UNITS:
                limit = getattr(budget, f"{period}_{unit}", None) if budget else None
                if limit is not None:
                    caps.append(Cap(scope, name, period, unit, float(limit), key))
    return caps


def spent(db: Database, cap: Cap, now: datetime | None = None) -> float:
    """What the cap's owner spent in the current period, from the runs table."""
    start, _ = period_bounds(cap.period, now)
    column = "group_id" if cap.scope == "group" else "account"
    rows = db.execute(
        f"select {_SPENT[cap.unit]} from runs where {column} = ? and started_at >= ?",
        [cap.runs_key, start.isoformat(timespec="microseconds")],
    ).fetchone()
    return float(rows[0] or 0)


# --- refusing and warning -----------------------------------------------------------------


class BudgetExceeded(DeniedError):
    """A cap is reached: the model call (or the run) is refused."""

    def __init__(self, cap: Cap, used: float, needed: float, resets: datetime):
        self.cap = cap
        what = f"the {cap.period} budget of {cap.owner} is {cap.amount(cap.limit)}"
        used_text = f"{cap.amount(used)} {'is' if cap.unit == 'usd' else 'are'} spent"
        if used < cap.limit and needed:
            used_text += f" and this call needs about {cap.amount(needed)} more"
        message = f"budget reached: {what} and {used_text}; it resets {reset_text(resets)}"
        if cap.scope == "group":
            hint = f"Raise it with: pynchy groups set {cap.name} --budget {cap.period}=..."
        else:
            hint = f"Raise it in the budget of [accounts.{cap.name}] in config.toml"
        super().__init__(message, hint + ", or wait for the reset")


class Budgets:
    """The caps a run's spending counts against: its group's and its paying account's."""

    def __init__(self, db: Database, settings: Settings, group: Group, account: str | None):
        self.db = db
        self.settings = settings
        self.group = group
        self.account = account

    def caps(self) -> list[Cap]:
        # Read each time: a group's budget changed while a run goes on applies to its next call.
        return caps_for(self.db, self.settings, self.group, self.account)

    def check(self, *, tokens: int = 0, usd: float = 0.0, now: datetime | None = None) -> None:
        """Raise BudgetExceeded if a cap is reached, or if `tokens` / `usd` (what the next
        call is known to need at least) would pass it."""
        for cap in self.caps():
            used = spent(self.db, cap, now)
            needed = tokens if cap.unit == "tokens" else usd
            if used >= cap.limit or used + needed > cap.limit:
                raise BudgetExceeded(cap, used, needed, period_bounds(cap.period, now)[1])

    def warnings(
        self, *, tokens: int = 0, usd: float = 0.0, now: datetime | None = None
    ) -> list[str]:
        """Warnings for caps now 80% (but not yet 100%) spent (`tokens`, `usd`: a call not
        yet in the runs table), each once per cap and period across runs and processes."""
        notices = []
        for cap in self.caps():
            used = spent(self.db, cap, now) + (tokens if cap.unit == "tokens" else usd)
            if not WARN_AT * cap.limit <= used < cap.limit:
                continue  # past the cap, the refusal of the next call says so
            start, end = period_bounds(cap.period, now)
            key = f"{cap.scope}:{cap.runs_key}:{cap.period}_{cap.unit}:{start.date()}"
            try:
                self.db["budget_notices"].insert({"key": key, "at": utcnow()})
            except sqlite3.IntegrityError:
                continue  # already told this period
            notices.append(
                f"Budget warning: {cap.owner} has spent {cap.amount(used)} of its"
                f" {cap.period} budget of {cap.amount(cap.limit)} ({used / cap.limit:.0%});"
                f" it resets {reset_text(end)}."
            )
        return notices


# --- `--budget` flags and how a budget reads --------------------------------------------

_AMOUNT = re.compile(
    r"^(?:\$\s*(?P<dollars>\d+(?:\.\d+)?)|(?P<usd>\d+(?:\.\d+)?)\s*(?:usd|\$)"
    r"|(?P<tokens>\d[\d_,]*)\s*(?P<scale>[km]?)\s*(?:tokens?|tok))$"
)
_FLAG_HINT = "Use daily=5usd, monthly=2000000tokens (or 2Mtokens), daily=off, or off"


def parse_budget_flags(values: list[str], current: Budget | None) -> Budget | None:
    """Apply `--budget` values (PERIOD=AMOUNT, PERIOD=off, off) to a budget; None when no
    cap is left."""
    data: dict[str, Any] = current.model_dump(exclude_none=True) if current else {}
    for raw in values:
        text = raw.strip().lower()
        if text in ("off", "none"):
            data = {}
            continue
        period, _, amount = text.partition("=")
        period, amount = period.strip(), amount.strip()
        if period not in PERIODS or not amount:
            raise UsageError(f"bad --budget {raw!r}", _FLAG_HINT)
        if amount in ("off", "none"):
            for unit in UNITS:
                data.pop(f"{period}_{unit}", None)
            continue
        unit, value = _parse_amount(raw, amount)
        data[f"{period}_{unit}"] = value
    try:
        budget = Budget(**data)
    except ValidationError:
        raise UsageError("a budget must be more than zero", _FLAG_HINT) from None
    return budget if budget.model_dump(exclude_none=True) else None


def _parse_amount(raw: str, amount: str) -> tuple[str, float | int]:
    found = _AMOUNT.match(amount)
    if not found:
        raise UsageError(f"bad --budget {raw!r}", _FLAG_HINT)
    if found["tokens"] is not None:
        scale = {"": 1, "k": 1_000, "m": 1_000_000}[found["scale"]]
        return "tokens", int(found["tokens"].replace("_", "").replace(",", "")) * scale
    return "usd", float(found["dollars"] or found["usd"])


def describe(budget: Budget | None) -> str | None:
    """`daily $5.00, monthly 2,000,000 tokens`, or None without caps."""
    if budget is None:
        return None
    parts = [
        f"{period} {format_amount(value, unit)}"
        for period in PERIODS
        for unit in UNITS
        if (value := getattr(budget, f"{period}_{unit}")) is not None
    ]
    return ", ".join(parts) or None
