"""Usage as charts: runs, tokens and cost by account, group and day (core/usage.py's
totals), drawn as server-made SVG bars beside the numbers (no inline style, so the
page's Content-Security-Policy stays strict; the numbers are the accessible part)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pynchy_cli.core import usage
from pynchy_cli.core.errors import UsageError
from pynchy_cli.core.serve.web.base import Refused, service
from pynchy_cli.core.serve.web.html import Html, fmt, join
from pynchy_cli.core.serve.web.layout import empty, facts, page, tokens

RANGES = (("7d", "7 days"), ("30d", "30 days"), ("today", "today"), ("all", "all time"))
METRICS = (("cost", "cost"), ("tokens", "tokens"))
BAR_WIDTH = 200  # the SVG's own units; CSS scales it


def _amount(row: dict[str, Any], metric: str) -> float:
    if metric == "cost":
        return float(row["cost_usd"] or 0)
    return float(row["input_tokens"] + row["output_tokens"])


def _shown(row: dict[str, Any], metric: str) -> str:
    if metric == "cost":
        return usage.cost_text(row["cost_usd"], row["unknown_cost_runs"])
    return f"{tokens(row['input_tokens'] + row['output_tokens'])} tokens"


def bar(value: float, top: float) -> Html:
    width = 0 if top <= 0 else max(1, round(BAR_WIDTH * value / top)) if value > 0 else 0
    return fmt(
        '<svg class="bar" viewBox="0 0 {w} 12" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false">'
        '<rect class="track" x="0" y="0" width="{w}" height="12"></rect>'
        '<rect class="fill" x="0" y="0" width="{v}" height="12"></rect></svg>',
        w=BAR_WIDTH,
        v=width,
    )


def chart(title: str, key: str, rows: list[dict[str, Any]], metric: str) -> Html:
    """One chart: a row per key with its bar and its numbers."""
    if not rows:
        return fmt(
            '<section class="chart"><h2>{t}</h2>{e}</section>', t=title, e=empty("Nothing yet.")
        )
    top = max(_amount(r, metric) for r in rows)
    items = join(
        fmt(
            '<li><span class="key">{k}</span>{b}<span class="num">{n}</span>'
            '<span class="sub">{r} run{s} · {i} in · {o} out</span></li>',
            k="(none)" if r[key] == "-" else r[key],
            b=bar(_amount(r, metric), top),
            n=_shown(r, metric),
            r=r["runs"],
            s="" if r["runs"] == 1 else "s",
            i=tokens(r["input_tokens"]),
            o=tokens(r["output_tokens"]),
        )
        for r in rows
    )
    slug = key
    return fmt(
        '<section class="chart" aria-labelledby="c-{s}"><h2 id="c-{s}">{t}</h2>'
        '<ul class="bars">{i}</ul></section>',
        s=slug,
        t=title,
        i=items,
    )


def _choices(current: str, options: tuple, param: str, other: dict[str, str]) -> Html:
    links = []
    for value, label in options:
        query = "&".join(f"{k}={v}" for k, v in {**other, param: value}.items())
        links.append(
            fmt(
                '<a href="/web/usage?{q}"{c}>{l}</a>',
                q=query,
                l=label,
                c=Html(' aria-current="true"') if value == current else Html(""),
            )
        )
    return join(links, " · ")


async def usage_page(request: web.Request) -> str:
    db = service(request).db
    span = request.query.get("since", "30d")
    if span not in dict(RANGES):
        raise Refused(400, f"since must be one of: {', '.join(dict(RANGES))}")
    try:
        since = None if span == "all" else usage.parse_since(span)
    except UsageError as exc:
        raise Refused(400, exc.line()) from None
    by_group = usage.totals(db, "group", since)
    total = usage.grand_total(by_group)
    metric = request.query.get("metric") or ("cost" if total["cost_usd"] else "tokens")
    if metric not in dict(METRICS):
        raise Refused(400, "metric must be cost or tokens")
    days = list(reversed(usage.totals(db, "day", since)))  # newest first
    body = fmt(
        "<h1>Usage</h1>"
        '<nav class="choices" aria-label="Period">Period: {periods}</nav>'
        '<nav class="choices" aria-label="Measure">Bars show: {metrics}</nav>'
        "{facts}"
        '<div class="charts">{a}{g}{d}</div>',
        periods=_choices(span, RANGES, "since", {"metric": metric}),
        metrics=_choices(metric, METRICS, "metric", {"since": span}),
        facts=facts(
            [
                ("runs", str(total["runs"])),
                ("input tokens", tokens(total["input_tokens"])),
                ("output tokens", tokens(total["output_tokens"])),
                ("cost", usage.cost_text(total["cost_usd"], total["unknown_cost_runs"])),
            ]
        ),
        a=chart("By account", "account", usage.totals(db, "account", since), metric),
        g=chart("By group", "group", by_group, metric),
        d=chart("By day", "day", days, metric),
    )
    return page(request, "Usage", body)
