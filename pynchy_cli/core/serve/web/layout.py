"""The frame of every page (head, navigation, main landmark, footer) and the small pieces
pages share: times, money, tokens, status badges, key/value lists."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from pynchy_cli import __version__
from pynchy_cli.core.serve.web.base import csrf, service
from pynchy_cli.core.serve.web.html import Html, esc, fmt, join, tag

STATIC_DIR = Path(__file__).parent / "static"

NAV = (
    ("/web/", "Chats"),
    ("/web/approvals", "Approvals"),
    ("/web/runs", "Runs"),
    ("/web/tasks", "Tasks"),
    ("/web/usage", "Usage"),
    ("/web/health", "Health"),
)


@cache
def asset_version() -> str:
    """Changes with the assets: a new release's script is never an old cached one."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def page(
    request: web.Request,
    title: str,
    body: Html,
    *,
    main_data: dict[str, Any] | None = None,
    signed_in: bool = True,
) -> str:
    """A whole page. `main_data`: data-* attributes of <main> for the script."""
    version = asset_version()
    data = join(fmt(' data-{k}="{v}"', k=Html(k), v=v) for k, v in (main_data or {}).items())
    head_extra = (
        fmt('<meta name="pynchy-csrf" content="{t}">', t=csrf(request)) if signed_in else ""
    )
    return fmt(
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        "<title>{title} · pynchy</title>"
        '<link rel="icon" href="/web/static/icon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/web/static/app.css?v={v}">'
        "{head_extra}"
        '<script src="/web/static/app.js?v={v}" defer></script>'
        "</head><body>"
        '<a class="skip" href="#main">Skip to content</a>'
        "{header}"
        '<main id="main" tabindex="-1"{data}>{body}</main>'
        "{footer}</body></html>",
        title=title,
        v=version,
        head_extra=head_extra,
        header=_header(request) if signed_in else _bare_header(),
        data=data,
        body=body,
        footer=_footer(request) if signed_in else Html(""),
    )


def _bare_header() -> Html:
    return Html('<header class="top"><span class="brand">pynchy</span></header>')


def _header(request: web.Request) -> Html:
    waiting = len(service(request).approvals.waiting)
    links = []
    for href, label in NAV:
        current = request.path == href or (href != "/web/" and request.path.startswith(href))
        current = current or (href == "/web/" and request.path.startswith("/web/groups/"))
        count = (
            fmt(' <span class="count" aria-label="{n} waiting">{n}</span>', n=waiting)
            if href == "/web/approvals" and waiting
            else ""
        )
        links.append(
            fmt(
                '<li><a href="{href}"{cur}>{label}{count}</a></li>',
                href=href,
                cur=Html(' aria-current="page"') if current else Html(""),
                label=label,
                count=count,
            )
        )
    return fmt(
        '<header class="top"><a class="brand" href="/web/">pynchy</a>'
        '<nav aria-label="Main"><ul>{links}</ul></nav>'
        '<form class="logout" method="post" action="/web/logout">{csrf}'
        '<button type="submit" class="quiet">Log out</button></form></header>',
        links=join(links),
        csrf=csrf_field(request),
    )


def _footer(request: web.Request) -> Html:
    started = service(request).started_at
    return fmt(
        '<footer class="bottom">pynchy {v} · serve started {t}</footer>',
        v=__version__,
        t=when(started),
    )


def group_url(name: str) -> str:
    return "/web/groups/" + quote(name, safe="")


def csrf_field(request: web.Request) -> Html:
    return fmt('<input type="hidden" name="csrf" value="{t}">', t=csrf(request))


def when(iso: str | None) -> Html:
    """A stored UTC time as local time, in a <time> element."""
    if not iso:
        return Html("-")
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return esc(iso)
    return fmt(
        '<time datetime="{iso}">{text}</time>', iso=iso, text=moment.strftime("%Y-%m-%d %H:%M:%S")
    )


def duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    try:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return "-"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def money(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:,.4f}"


def tokens(count: int | None) -> str:
    return f"{count or 0:,}"


def badge(status: str | None) -> Html:
    return tag("span", status or "-", class_=f"badge s-{status or 'none'}")


def brief(value: Any, width: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def facts(pairs: list[tuple[str, Any]]) -> Html:
    """A definition list of label/value pairs; values are escaped unless Html."""
    items = join(fmt("<div><dt>{k}</dt><dd>{v}</dd></div>", k=k, v=v) for k, v in pairs)
    return fmt('<dl class="facts">{items}</dl>', items=items)


def table(headers: list[str], rows: list[list[Any]], *, caption: str | None = None) -> Html:
    head = join(tag("th", h, scope="col") for h in headers)
    body = join(tag("tr", *(tag("td", cell) for cell in row)) for row in rows)
    cap = tag("caption", caption, class_="visually-hidden") if caption else ""
    return fmt(
        '<div class="scroll" tabindex="0" role="region" aria-label="{label}">'
        "<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>",
        label=caption or "table",
        cap=cap,
        head=head,
        body=body,
    )


def empty(text: str) -> Html:
    return tag("p", text, class_="empty")
