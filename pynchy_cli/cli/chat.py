"""`pynchy chat`: the terminal channel, a client of `pynchy serve`'s local API.

On a terminal it is a line editor (chat_screen.py); in a pipe it sends each stdin line and
prints what comes back as plain text. Both follow the group across serve restarts
(core/serve/feed.py) and find serve where it recorded its address (serve.json)."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

import typer

from pynchy_cli.cli.common import context
from pynchy_cli.cli.output import console, err_console, neutralise_markup
from pynchy_cli.cli.render import render_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynchy_cli.core.context import Context
    from pynchy_cli.core.serve.client import ApiClient
    from pynchy_cli.core.serve.feed import GroupFeed

PIPE_GIVE_UP_SECONDS = 30.0
NOT_ADDRESSED = "[dim](stored; not addressed to the agent)[/]"


def show_plain(event: dict[str, Any], me: str) -> None:
    """One event from serve, as plain lines. Senders, text and run events are stored
    text: neutralised."""
    kind = event.get("type")
    if kind == "message":
        who = event.get("sender_kind")
        sender = neutralise_markup(str(event.get("sender", "")))
        text = neutralise_markup(str(event.get("content", "")))
        if who == "assistant":
            console.print(f"[bold]{sender}:[/] {text}", soft_wrap=True)
        elif who == "host":
            console.print(f"[yellow]» pynchy: {text}[/]", soft_wrap=True)
        elif event.get("sender") != me:
            console.print(f"[blue]{sender}:[/] {text}", soft_wrap=True)
    elif kind == "run_event" and event.get("kind") in ("tool_use", "tool_result", "error"):
        render_event(event)


async def _pipe(feed: GroupFeed, me: str) -> None:
    """Non-interactive: send each stdin line, print what comes back until it is answered."""
    import asyncio

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def listen() -> None:
        async for event in feed.events():
            inbox.put_nowait(event)

    async def next_event() -> dict[str, Any]:
        getter = asyncio.ensure_future(inbox.get())
        await asyncio.wait({getter, listener}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            listener.result()  # serve stayed away too long: its error
        return getter.result()

    listener = asyncio.create_task(listen())
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            text = line.strip()
            if not text:
                continue
            sent = await feed.send(text)  # None: kept, and sent once serve is reachable
            target = _target(sent)
            while target != 0:
                event = await next_event()
                state = event.get("state") if event.get("type") == "feed" else None
                if state == "sent":
                    target = _target(event)
                elif state in ("lost", "back"):
                    err_console.print(f"pynchy: {_FEED_NOTICES[state]}", markup=False)
                else:
                    show_plain(event, me)
                    if event.get("type") == "cursor" and target is not None:
                        target = 0 if event["last_answered_id"] >= target else target
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


def _target(sent: dict[str, Any] | None) -> int | None:
    """The message id whose answer to wait for; 0 when there is none (not addressed);
    None while the line is kept for a serve that is not reachable."""
    if sent is None:
        return None
    if not sent["queued"] and not sent.get("answered"):
        console.print(NOT_ADDRESSED)
        return 0
    return sent["message"]["id"]  # an answer of the host's (/status) comes as a reply does


_FEED_NOTICES = {
    "lost": "serve is not reachable, reconnecting…",
    "back": "reconnected",
}


def _connector(
    c: Context, host: str | None, port: int | None, socket: str | None
) -> Callable[[], ApiClient]:
    """Makes a client for serve's address: the flags when given, else the address the
    running serve recorded (read anew at each reconnect), else the configured one."""
    from pynchy_cli.core.serve.client import ApiClient
    from pynchy_cli.core.serve.endpoint import http_url, running_endpoint

    settings = c.settings

    def connect() -> ApiClient:
        if host or port or socket:
            url = http_url(host or settings.api.host, port or settings.api.port)
            return ApiClient.for_paths(c.paths, url, socket)
        found = running_endpoint(c.paths)
        if found is not None:
            return ApiClient.for_paths(c.paths, found.url or "", found.socket)
        return ApiClient.for_paths(c.paths, http_url(settings.api.host, settings.api.port))

    return connect


def chat(
    ctx: typer.Context,
    group: str = typer.Option("main", "--group", "-g", help="The group to talk in."),
    name: str = typer.Option("you", "--as", help="Your name as shown to the agent."),
    host: str | None = typer.Option(
        None, "--host", help="serve's API address (default: where serve recorded it)."
    ),
    port: int | None = typer.Option(None, "--port", help="serve's API port."),
    socket: str | None = typer.Option(None, "--socket", help="serve's API unix socket."),
    give_up: float = typer.Option(
        PIPE_GIVE_UP_SECONDS,
        "--give-up-after",
        metavar="SECONDS",
        help="In a pipe: how long serve may be unreachable before chat fails.",
    ),
) -> None:
    """Talk to pynchy in a group; works interactively and in a pipe (echo hi | pynchy chat)."""
    import asyncio

    from pynchy_cli.core.serve.feed import GroupFeed  # aiohttp: only for this command

    c = context(ctx)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    feed = GroupFeed(
        _connector(c, host, port, socket),
        group,
        name,
        give_up_after=None if interactive else give_up,
    )

    async def main() -> None:
        try:
            await feed.open()  # fails early on a wrong group or a stopped serve
            if interactive:
                from pynchy_cli.cli.chat_screen import ChatScreen

                await ChatScreen(feed, c, group, name).run()
            else:
                await _pipe(feed, name)
        finally:
            await feed.close()

    asyncio.run(main())
