"""`pynchy chat` on a terminal: a prompt with line editing and history (prompt_toolkit),
replies rendered as markdown (rich), and a line under the prompt that shows when the agent
is working and which tool it runs. Everything stored (messages, tool names, run events) is
neutralised before it is shown: rendered, never obeyed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.styles import Style
from rich.markdown import Markdown

from pynchy_cli.cli.output import console, neutralise, neutralise_markup
from pynchy_cli.cli.render import render_event
from pynchy_cli.core.file_modes import private_file

if TYPE_CHECKING:
    from pynchy_cli.core.context import Context
    from pynchy_cli.core.serve.feed import GroupFeed

HISTORY_FILE = "chat-history"  # in the data folder, 600: what you typed is private too
MARKER = "› "
STYLE = Style.from_dict(
    {
        "marker": "bold ansicyan",
        "bottom-toolbar": "noreverse",
        "working": "ansiyellow",
    }
)


class ChatScreen:
    def __init__(self, feed: GroupFeed, c: Context, group: str, me: str):
        self.feed = feed
        self.group = group
        self.me = me
        self.assistant = c.settings.assistant_name
        history = private_file(c.paths.data_dir / HISTORY_FILE)
        self.session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)),
            bottom_toolbar=self._status_line,
            style=STYLE,
        )
        self.run_active = False  # a run of this group is answering
        self.awaiting = 0  # the newest message of mine not yet answered (cursor below it)
        self.tool: str | None = None  # the tool the agent runs now

    # --- the screen ---------------------------------------------------------------------

    def _status_line(self) -> Any:
        if not (self.run_active or self.awaiting):
            return ""
        tool = f" · {neutralise(self.tool)}" if self.tool else ""
        return [("class:working", f"● {self.assistant} is working{tool}…")]

    def _redraw(self) -> None:
        self.session.app.invalidate()

    async def run(self) -> None:
        with patch_stdout(raw=True):
            console.print(
                f"[dim]chatting in {neutralise_markup(self.group)} · Enter sends,"
                " ↑ recalls, Ctrl-D leaves[/]"
            )
            listener = asyncio.create_task(self._listen())
            # The prompt once the feed listens: a line typed at once is then sent at once.
            ready = asyncio.ensure_future(self.feed.first_connection.wait())
            await asyncio.wait({listener, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            typing = asyncio.create_task(self._read_lines())
            try:
                await asyncio.wait({listener, typing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (typing, listener):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if listener.done() and not listener.cancelled():
                listener.result()  # a lost group (removed?) ends the chat with its error

    async def _read_lines(self) -> None:
        while True:
            try:
                line = await self.session.prompt_async([("class:marker", MARKER)])
            except (EOFError, KeyboardInterrupt):
                return
            text = line.strip()
            if not text:
                continue
            sent = await self.feed.send(text)
            if sent is None:
                console.print(
                    "[yellow]serve is not reachable: your message is kept and sent once"
                    " reconnected[/]"
                )
            else:
                self._sent(sent)

    def _sent(self, sent: dict[str, Any]) -> None:
        if sent.get("answered"):
            return  # the host's own answer (/status, /reset) comes in the event stream
        if not sent["queued"]:
            console.print("[dim](stored; not addressed to the agent)[/]")
        else:
            self.awaiting = max(self.awaiting, sent["message"]["id"])
            self._redraw()

    # --- what serve says ----------------------------------------------------------------

    async def _listen(self) -> None:
        async for event in self.feed.events():
            self._show(event)
            self._redraw()

    def _show(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "feed":
            self._feed_state(event)
        elif kind == "message":
            self._message(event)
        elif kind == "run":
            self.run_active = event.get("status") == "running"
            self.tool = None
        elif kind == "cursor":
            if event["last_answered_id"] >= self.awaiting:
                self.awaiting = 0
        elif kind == "run_event":
            self._run_event(event)

    def _feed_state(self, event: dict[str, Any]) -> None:
        state = event["state"]
        if state == "lost":
            self.run_active, self.tool = False, None
            console.print("[yellow]serve is not reachable, reconnecting…[/]")
        elif state == "back":
            console.print("[green]reconnected[/]")
        elif state == "sent":
            console.print(f"[dim]sent: {neutralise_markup(event['text'])}[/]", soft_wrap=True)
            self._sent(event)

    def _message(self, event: dict[str, Any]) -> None:
        who = event.get("sender_kind")
        sender = neutralise_markup(str(event.get("sender", "")))
        text = str(event.get("content", ""))
        if who == "assistant":
            if (event.get("reply_to") or 0) >= self.awaiting:
                self.awaiting = 0  # answered (the cursor event follows)
            console.print(f"[bold magenta]{sender}[/]")
            console.print(Markdown(neutralise(text), hyperlinks=False))
        elif who == "host":
            console.print(f"[yellow]» pynchy: {neutralise_markup(text)}[/]", soft_wrap=True)
        elif event.get("sender") != self.me:
            console.print(f"[blue]{sender}:[/] {neutralise_markup(text)}", soft_wrap=True)

    def _run_event(self, event: dict[str, Any]) -> None:
        kind, data = event.get("kind"), event.get("data") or {}
        if kind == "tool_use":
            self.tool = str(data.get("name", ""))
        elif kind == "tool_result":
            self.tool = None
        elif kind == "result":  # answered; a warm run now waits for follow-ups
            self.run_active, self.tool = False, None
        if kind in ("tool_use", "tool_result", "error"):
            render_event(event)
