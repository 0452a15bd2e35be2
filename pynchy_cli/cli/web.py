"""`pynchy web`: open serve's web page, logged in, with a one-time link."""

from __future__ import annotations

import os
import sys
from urllib.parse import quote

import typer

from pynchy_cli.cli.common import context
from pynchy_cli.cli.output import console, err_console


def _can_open_a_browser() -> bool:
    """A graphical browser can show up: a desktop session, or macOS/Windows. (Without one,
    Python's webbrowser would start a text browser in this terminal.)"""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def web(
    ctx: typer.Context,
    group: str | None = typer.Option(None, "--group", "-g", help="Open this group's chat."),
    no_open: bool = typer.Option(
        False, "--no-open", help="Only print the link (for a browser elsewhere)."
    ),
) -> None:
    """Open pynchy's web page in a browser, logged in (a link good once, for 2 minutes)."""
    import webbrowser

    from pynchy_cli.core.errors import UnavailableError
    from pynchy_cli.core.serve.endpoint import running_endpoint
    from pynchy_cli.core.serve.web.links import LINK_SECONDS, create_link_code

    c = context(ctx)
    found = running_endpoint(c.paths)
    if found is None:
        raise UnavailableError("pynchy serve is not running here", "Start it with: pynchy serve")
    if not found.url:
        raise UnavailableError(
            f"pynchy serve listens on a unix socket ({found.socket}), which browsers cannot open",
            "Start it on a port: pynchy serve --port 8787",
        )
    page = "/web/groups/" + quote(group, safe="") if group else "/web/"
    link = f"{found.url}/web/link?code={create_link_code(c.paths, page)}"
    if not sys.stdout.isatty():
        print(link)
        return
    opened = not no_open and _can_open_a_browser() and webbrowser.open(link)
    if opened:
        err_console.print(f"Opened pynchy's web page ({found.url}) in your browser.")
    else:
        err_console.print(
            f"Open this link in a browser on this machine (it works once, for "
            f"{LINK_SECONDS // 60} minutes):"
        )
    console.print(link, markup=False, soft_wrap=True)
