"""`pynchy chat`: the terminal channel, a client of `pynchy serve`'s local API."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING, Any

import typer

from pynchy_cli.cli.common import context
from pynchy_cli.cli.output import console, neutralise_markup
from pynchy_cli.cli.render import render_event

if TYPE_CHECKING:
    from pynchy_cli.core.serve.client import ApiClient


def _show(event: dict[str, Any], me: str) -> None:
    """One event from serve. Senders, text and run events are stored text: neutralised."""
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


async def _pipe(client: ApiClient, group: str, me: str) -> None:
    """Non-interactive: send each stdin line, print what comes back until it is answered."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    connected = asyncio.Event()

    async def listen() -> None:
        async for event in client.events(group, on_connect=connected.set):
            inbox.put_nowait(event)

    listener = asyncio.create_task(listen())
    try:
        # Subscribed before sending, so no reply can slip past.
        await next(asyncio.as_completed([connected.wait(), listener]))
        for line in sys.stdin:
            text = line.strip()
            if not text:
                continue
            sent = await client.send(group, text, me)
            if not sent["queued"]:
                console.print("[dim](stored; not addressed to the agent)[/]")
                continue
            target = sent["message"]["id"]
            while True:
                getter = asyncio.ensure_future(inbox.get())
                done, _ = await asyncio.wait(
                    {getter, listener}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    listener.result()  # the connection was lost: raise its error
                    return
                event = getter.result()
                _show(event, me)
                if event.get("type") == "cursor" and event["last_answered_id"] >= target:
                    break
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


async def _interactive(client: ApiClient, group: str, me: str) -> None:
    async def listen() -> None:
        async for event in client.events(group):
            _show(event, me)

    listener = asyncio.create_task(listen())
    console.print(f"[dim]chatting in {neutralise_markup(group)} · Ctrl-D to leave[/]")
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            if line.strip():
                sent = await client.send(group, line.strip(), me)
                if not sent["queued"]:
                    console.print("[dim](stored; not addressed to the agent)[/]")
            if listener.done():
                listener.result()  # re-raise a lost connection
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


def chat(
    ctx: typer.Context,
    group: str = typer.Option("main", "--group", "-g", help="The group to talk in."),
    name: str = typer.Option("you", "--as", help="Your name as shown to the agent."),
    host: str | None = typer.Option(None, "--host", help="serve's API address."),
    port: int | None = typer.Option(None, "--port", help="serve's API port."),
    socket: str | None = typer.Option(None, "--socket", help="serve's API unix socket."),
) -> None:
    """Talk to pynchy in a group; works interactively and in a pipe (echo hi | pynchy chat)."""
    from pynchy_cli.core.serve.client import ApiClient  # aiohttp: only for this command

    c = context(ctx)
    settings = c.settings
    url = f"http://{host or settings.api.host}:{port or settings.api.port}"

    async def main() -> None:
        client = ApiClient.for_paths(c.paths, url, socket)
        try:
            await client.messages(group)  # fails early on a wrong group or a stopped serve
            if sys.stdin.isatty():
                await _interactive(client, group, name)
            else:
                await _pipe(client, group, name)
        finally:
            await client.close()

    asyncio.run(main())
