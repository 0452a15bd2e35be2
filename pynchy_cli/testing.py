"""Helpers for testing plugins without a running pynchy, channel plugins above all:

    from pynchy_cli import testing

    family = testing.make_group("family", "C0FAM", channel="slack")
    host = testing.FakeChannelHost(family)
    async with testing.started(channel, host, ready=lambda: channel.connected):
        ...  # the platform's fake server posts a message
        await testing.eventually(lambda: host.messages, "the message")
    assert host.contents("family") == ["hello"]

and in a plugin's tests/conftest.py:

    pynchy_home = testing.isolation_fixture("SLACK_")   # autouse: PYNCHY_HOME, no tokens
    slack = testing.server_fixture(FakeSlack)           # the fake platform, per test

Only the two *_fixture functions import pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

from pynchy_cli.core.config import Settings, masked
from pynchy_cli.core.groups import Group
from pynchy_cli.core.plugins.manager import load_plugins, reset_plugins
from pynchy_cli.core.serve.channels import Channel, ChannelHost
from pynchy_cli.core.voice.kit import VoiceNote

__all__ = [
    "FakeChannelHost",
    "FakeServer",
    "eventually",
    "isolated_environment",
    "isolation_fixture",
    "load_plugins",
    "make_group",
    "mcp_answers",
    "masked",
    "plugin_settings",
    "reset_plugins",
    "run_pynchy",
    "scripted_run",
    "server_fixture",
    "spoken_audio",
    "started",
]

T = TypeVar("T")
ChannelT = TypeVar("ChannelT", bound=Channel)
_group_ids = itertools.count(1)


def make_group(
    name: str,
    chat_id: str | int | None,
    *,
    channel: str,
    admin: bool = False,
    trigger: str | None = None,
    id: int | None = None,
) -> Group:
    """A group as `pynchy groups add NAME --channel CHANNEL --chat CHAT_ID` makes it."""
    return Group(
        id=next(_group_ids) if id is None else id,
        name=name,
        folder=f"/tmp/{name}",
        admin=admin,
        trigger=trigger,
        model=None,
        account=None,
        network=False,
        channel=channel,
        chat_id=None if chat_id is None else str(chat_id),
        session_id=None,
        last_answered_id=0,
        created_at="2026-01-01T00:00:00+00:00",
    )


class FakeChannelHost(ChannelHost):
    """pynchy's side of a channel (the ChannelHost protocol), in memory, with the rules of
    the real service: a message is stored once per (channel, platform id), a second
    receive of it answers (the stored message, False) and counts in `duplicates`;
    last_platform_id is the platform id of the chat's newest stored message. A voice
    message is kept as given: `voice` (the VoiceNote) beside its caption in `content`."""

    duplicates = 0

    def __init__(self, *groups: Group):
        self.groups = {(g.channel, g.chat_id): g for g in groups if g.chat_id}
        self.messages: list[dict[str, Any]] = []

    def group_for_chat(self, channel: str, chat_id: str) -> Group | None:
        return self.groups.get((channel, str(chat_id)))

    def last_platform_id(self, channel: str, chat_id: str) -> str | None:
        group = self.group_for_chat(channel, chat_id)
        if group is None:
            return None
        ids = [
            m["platform_id"]
            for m in self.messages
            if m["group"] == group.name and m["channel"] == channel and m["platform_id"]
        ]
        return ids[-1] if ids else None

    async def receive(
        self,
        group: Group,
        sender: str,
        content: str,
        *,
        channel: str,
        platform_id: str | None = None,
        voice: VoiceNote | None = None,
    ) -> tuple[dict[str, Any], bool]:
        for stored in self.messages:
            if platform_id is not None and (stored["channel"], stored["platform_id"]) == (
                channel,
                platform_id,
            ):
                self.duplicates += 1
                return stored, False
        message = {
            "id": len(self.messages) + 1,
            "group": group.name,
            "chat_id": group.chat_id,
            "sender": sender,
            "content": content,
            "channel": channel,
            "platform_id": platform_id,
            "voice": voice,
        }
        self.messages.append(message)
        return message, True

    def contents(self, group: str | None = None) -> list[str]:
        """What was stored, in order: of one group, or of all."""
        return [m["content"] for m in self.messages if group is None or m["group"] == group]


async def eventually(
    predicate: Callable[[], T], what: str, *, tries: int = 1200, pause: float = 0.025
) -> T:
    """Poll until predicate() is truthy and return its value; give up (AssertionError
    naming `what`) after `tries` polls. For readiness, never as a check of speed."""
    for _ in range(tries):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(pause)
    raise AssertionError(f"gave up waiting for {what}")


@contextlib.asynccontextmanager
async def started(
    channel: ChannelT,
    host: ChannelHost,
    *,
    ready: Callable[[], object] | None = None,
    what: str = "the channel to connect",
) -> AsyncIterator[ChannelT]:
    """The channel, started with `host` and (with `ready`) connected; stopped afterwards."""
    await channel.start(host)
    try:
        if ready is not None:
            await eventually(ready, what)
        yield channel
    finally:
        await channel.stop()


def plugin_settings(name: str, table: dict[str, Any] | None = None, **fields: Any) -> Settings:
    """Settings with `[plugin.NAME]` = table (no table when it is empty), and any other
    field given (assistant_name="Robo", ...)."""
    return Settings(plugin={name: dict(table)} if table else {}, **fields)


class _MonkeyPatch(Protocol):
    def setenv(self, name: str, value: str) -> None: ...

    def delenv(self, name: str, raising: bool = True) -> None: ...


def isolated_environment(monkeypatch: _MonkeyPatch, home: Path, *prefixes: str) -> Path:
    """A fresh PYNCHY_HOME for one test, without the user's other PYNCHY_* and XDG folders
    or any variable starting with one of `prefixes` (a channel's tokens, "SLACK_"), so a
    test never reads real settings or credentials. Returns home."""
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PYNCHY_HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("PYNCHY_", *prefixes)) and name != "PYNCHY_HOME":
            monkeypatch.delenv(name, raising=False)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


class FakeServer:
    """Base of a fake platform server that runs in an event loop of its own, in a daemon
    thread, so a test (sync, or async with its own loop running the client) can drive it
    through call(). A subclass writes `async _serve()` (listen, e.g. `self.port = await
    self._listen(app)` for an aiohttp app; set its port) and may write `async _shutdown()`;
    use it as a context manager, or start() and stop()."""

    thread_name = "fake-server"
    timeout = 30.0  # seconds to start, stop, or answer call()
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _app_runner: Any = None

    async def _serve(self) -> None:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        if self._app_runner is not None:
            await self._app_runner.cleanup()

    async def _listen(self, app: Any) -> int:
        """Serve an aiohttp Application on 127.0.0.1, on a free port (returned); the
        default _shutdown stops it. For `_serve`."""
        from aiohttp import web

        self._app_runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._app_runner.setup()
        await web.TCPSite(self._app_runner, "127.0.0.1", 0).start()
        return self._app_runner.addresses[0][1]

    def start(self) -> Self:
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported in the test's thread
                failed.append(exc)
            ready.set()
            if not failed:
                loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(self.timeout):
            raise RuntimeError(f"{self.thread_name} did not start")
        if failed:
            raise RuntimeError(f"{self.thread_name} did not start: {failed[0]!r}") from failed[0]
        return self

    def call(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        """target(*args, **kwargs) in the server's loop, awaited if it gives a coroutine
        (target may be a coroutine object too): its result, or what it raised."""

        async def run() -> Any:
            value = target(*args, **kwargs) if callable(target) else target
            return await value if asyncio.iscoroutine(value) else value

        if self._loop is None:
            raise RuntimeError(f"{self.thread_name} is not started")
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(self.timeout)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.call(self._shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)
        self._loop, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spoken_audio(text: str, *, opus: bool = True) -> bytes:
    """`text` spoken by espeak-ng, as OGG/Opus (through opusenc or ffmpeg) or, with
    opus=False, WAV: a real voice message for a channel's tests. Needs Debian's espeak-ng
    (and opus-tools or ffmpeg for OGG)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise AssertionError("espeak-ng is missing: apt-get install espeak-ng opus-tools")
    with tempfile.TemporaryDirectory() as folder:
        wav, ogg = Path(folder) / "voice.wav", Path(folder) / "voice.ogg"
        subprocess.run([espeak, "--stdin", "-w", str(wav)], input=text.encode(), check=True)
        if not opus:
            return wav.read_bytes()
        if encoder := shutil.which("opusenc"):
            subprocess.run([encoder, "--quiet", str(wav), str(ogg)], check=True)
        elif encoder := shutil.which("ffmpeg"):
            subprocess.run(
                [encoder, "-loglevel", "error", "-i", str(wav), "-c:a", "libopus", str(ogg)],
                check=True,
            )
        else:
            raise AssertionError("no OGG/Opus encoder: apt-get install opus-tools")
        return ogg.read_bytes()


async def mcp_answers(
    target: Any, calls: list[tuple[str, dict[str, Any]]]
) -> list[tuple[bool, Any]]:
    """Call an MCP server's tools through the mcp client, in order, on one connection:
    (is_error, answer) of each, the answer's JSON decoded unless it is an error. `target`:
    an in-process server object or StdioServerParameters."""
    import json

    from mcp import Client

    answers = []
    async with Client(target) as client:
        for tool, arguments in calls:
            result = await client.call_tool(tool, arguments)
            text = "\n".join(block.text for block in result.content)
            answers.append((bool(result.is_error), text if result.is_error else json.loads(text)))
    return answers


def mcp_call(target: Any, tool: str, /, **arguments: Any) -> Any:
    """One tool call (see `mcp_answers`) from a plain test: its answer; the test fails with
    the tool's error when it answered one."""
    [(is_error, answer)] = asyncio.run(mcp_answers(target, [(tool, arguments)]))
    assert not is_error, answer
    return answer


def mcp_error(target: Any, tool: str, /, **arguments: Any) -> str:
    """One tool call that must fail: the error text it answered."""
    [(is_error, answer)] = asyncio.run(mcp_answers(target, [(tool, arguments)]))
    assert is_error, answer
    return answer


def mcp_tool_hints(target: Any) -> dict[str, Any]:
    """name -> annotations (the hints the policy gate reads) of every tool the server lists."""
    from mcp import Client

    async def listed() -> dict[str, Any]:
        async with Client(target) as client:
            return {t.name: t.annotations for t in (await client.list_tools()).tools}

    return asyncio.run(listed())


def run_pynchy(
    home: Path,
    *args: str,
    answers: str = "",
    env: dict[str, str] | None = None,
    drop_env: tuple[str, ...] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`pynchy ARGS` in a subprocess with PYNCHY_HOME=home, whose stdin is a terminal that
    types `answers` (approval prompts read it); `drop_env`: prefixes of variables left out
    (so a test's config.toml is what counts). Fails unless it exits 0."""
    import sys

    environment = {**os.environ, "PYNCHY_HOME": str(home), **(env or {})}
    if drop_env:
        environment = {k: v for k, v in environment.items() if not k.startswith(drop_env)}
    main, terminal = os.openpty()
    try:
        os.write(main, answers.encode())
        done = subprocess.run(
            [sys.executable, "-m", "pynchy_cli", *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            env=environment,
            timeout=timeout,
        )
    finally:
        os.close(terminal)
        os.close(main)
    assert done.returncode == 0, f"pynchy {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done


def scripted_run(
    home: Path, turns: list[dict[str, Any]], *, runtime: str, answers: str = "", **options: Any
) -> dict[str, Any]:
    """One `pynchy agent run` with a scripted model playing `turns` (each: text and/or
    tool_calls [{"name", "input"}]), then its trace (`agent trace --json`: run, events).
    `options` go to run_pynchy."""
    import json

    script = home / "script.json"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(json.dumps({"turns": turns}))
    model = f"scripted:{script}"
    run_pynchy(
        home,
        "agent",
        "run",
        "--runtime",
        runtime,
        "--model",
        model,
        "go",
        answers=answers,
        **options,
    )
    runs = json.loads(run_pynchy(home, "agent", "ps", "--all", "--json", **options).stdout)
    return json.loads(run_pynchy(home, "agent", "trace", runs[0]["id"], "--json", **options).stdout)


def isolation_fixture(*prefixes: str) -> Any:
    """An autouse pytest fixture for a conftest.py (assign it to a name there): each test
    gets its own PYNCHY_HOME, which the fixture returns; see isolated_environment."""
    import pytest

    @pytest.fixture(autouse=True)
    def pynchy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        return isolated_environment(monkeypatch, tmp_path / "pynchy-home", *prefixes)

    return pynchy_home


def server_fixture(make: Callable[[], AbstractContextManager[T]]) -> Any:
    """A pytest fixture for a conftest.py, named by the name it is assigned to: make()
    entered around each test (a fake platform server, started and stopped)."""
    import pytest

    @pytest.fixture
    def server() -> Iterator[T]:
        with make() as running:
            yield running

    return server
