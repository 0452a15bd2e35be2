"""Running MCP servers on the host for one agent run, and calling their tools.

The host, not the container, talks to MCP servers: a server's environment and headers
(credentials included) never reach an agent. A run asks `McpHost.list_tools()` once
before its container starts; the tools join the run's tool list as `mcp__SERVER__TOOL`
and the container sends calls to them to the host like pynchy's own tools.

Servers start lazily: a server whose tool list this process saw recently (a `serve`
process runs many runs) starts only when a run first calls one of its tools. A server a
run started is stopped when the run ends, except the pooled ones (core.plugins.mcp_pool:
those that see the workspace, shareable ones, those with idle_stop), which stop when
idle. Where a server runs and what it sees (its own container, or the host with
workspace paths mapped) is core.plugins.mcp_container's and mcp_paths'. A server that
cannot start or answer costs its tools, with a warning or a tool error; it never fails
the run.
Whether a call may run is the policy gate's to decide (core.policy.gate); each tool's
rule for it comes from the tool's MCP annotations and its server's config (`rules`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import jsonschema

from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.plugins.mcp import McpServer, tool_name
from pynchy_cli.core.plugins.mcp_container import Launch, McpPlace, launch_for
from pynchy_cli.core.plugins.mcp_paths import PathRefused, WorkspacePaths
from pynchy_cli.core.plugins.mcp_pool import current_pool
from pynchy_cli.core.policy.tiers import Annotations, ToolRule
from pynchy_cli.protocol import MAX_TOOL_OUTPUT, trim_text

log = logging.getLogger("pynchy.mcp")

START_TIMEOUT = 30.0  # seconds for a server to start, initialize and list its tools
STOP_TIMEOUT = 10.0
LISTING_TTL = 300.0  # seconds a server's tool list is reused without starting it
_TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what model providers accept

# identity of a server -> (monotonic time, its tools); shared by the runs of one process.
_LISTINGS: dict[tuple[Any, ...], tuple[float, list[McpTool]]] = {}


class McpUnavailable(Exception):
    """An MCP server that could not be started or reached."""


@dataclass(frozen=True)
class McpTool:
    server: str
    tool: str  # the name the server knows
    name: str  # the name agents see: mcp__SERVER__TOOL
    description: str
    input_schema: dict[str, Any]
    annotations: Annotations | None = None  # its MCP behaviour hints, if it has any

    @property
    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


def _reason(exc: BaseException) -> str:
    """One line about an error, looking inside the exception groups anyio raises."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Connection:
    """One running server. A background task owns it: the SDK's transports use anyio
    cancel scopes, which must be entered and left by the same task."""

    def __init__(
        self,
        server: McpServer,
        errlog: IO[str] | None,
        launch: Launch | None = None,
        owns_errlog: bool = False,
    ):
        self.server = server
        self.errlog = errlog
        self.launch = launch  # a stdio server's process; None: a url server
        self._owns_errlog = owns_errlog  # a pooled server's log outlives the run
        self.session: Any = None
        self.tools: list[Any] = []
        self.error: str | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float) -> None:
        self._task = asyncio.create_task(self._main(), name=f"mcp-{self.server.name}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            self.error = f"did not start within {timeout:g}s"
            await self.close()
        except asyncio.CancelledError:
            # Stopped once up, not left running: a later cancel (asyncio.run's teardown)
            # that lands while its process is being spawned hangs for good.
            await self.close()
            raise
        if self.session is None:
            raise McpUnavailable(self.error or "stopped")

    async def _main(self) -> None:
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(stack))
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                self.tools = await _list_all(session)
                self.session = session
                self._ready.set()
                await self._stop.wait()
        except asyncio.CancelledError:
            self.error = self.error or "stopped"
        except BaseException as exc:  # anything the server or its transport does
            self.error = _reason(exc)
        finally:
            self.session = None
            self._ready.set()
            if self._owns_errlog and self.errlog is not None:
                with contextlib.suppress(OSError):
                    self.errlog.close()
            if self.launch is not None and self.launch.container:  # gone, even if it hung
                await asyncio.shield(asyncio.to_thread(self.launch.cleanup))

    def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        server, launch = self.server, self.launch
        if server.command:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            launch = launch or Launch(list(server.command), dict(server.env), server.cwd)
            params = StdioServerParameters(
                command=launch.command[0],
                args=launch.command[1:],
                env=launch.env or None,
                cwd=launch.cwd,
            )
            # The child gets the SDK's allow-listed environment plus server.env; its
            # stderr goes to a log file, not to the terminal of `pynchy agent run`.
            return stdio_client(params, errlog=self.errlog) if self.errlog else stdio_client(params)
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        client = httpx2.AsyncClient(
            headers=server.headers or None, timeout=httpx2.Timeout(30.0, read=300.0)
        )
        stack.push_async_callback(client.aclose)
        return streamable_http_client(str(server.url), http_client=client)

    async def close(self) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _list_all(session: Any) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    for _ in range(100):  # a server that pages forever gets cut off
        result = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
        tools.extend(result.tools)
        cursor = getattr(result, "next_cursor", None)
        if not cursor:
            break
    return tools


def _convert(server: McpServer, tools: list[Any]) -> tuple[list[McpTool], list[str]]:
    out, warnings = [], []
    for t in tools:
        name = tool_name(server.name, t.name)
        schema = dict(t.input_schema or {"type": "object"})
        if not _TOOL_NAME_RE.match(name):
            warnings.append(f"MCP server {server.name}: tool {t.name!r} skipped (bad name)")
            continue
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            warnings.append(
                f"MCP server {server.name}: tool {t.name} skipped (bad input schema: {exc.message})"
            )
            continue
        if schema.get("type") != "object":
            warnings.append(
                f"MCP server {server.name}: tool {t.name} skipped (input not an object)"
            )
            continue
        description = (t.description or "").strip() or f"Tool {t.name} of the MCP server."
        if server.description:
            description = f"{description}\n(MCP server {server.name}: {server.description})"
        hints = Annotations.from_sdk(getattr(t, "annotations", None))
        out.append(McpTool(server.name, t.name, name, description[:4000], schema, hints))
    return out, warnings


async def _launch(server: McpServer, place: McpPlace | None, settings: Any) -> Launch | None:
    """How to start a stdio server (None for a url server); McpUnavailable if it cannot."""
    if not server.command:
        return None
    try:
        return await asyncio.to_thread(launch_for, server, place, settings)
    except PynchyError as exc:
        raise McpUnavailable(exc.line()) from None
    except OSError as exc:
        raise McpUnavailable(_reason(exc)) from None


async def probe(
    server: McpServer, timeout: float, settings: Any = None
) -> tuple[list[McpTool], list[str]]:
    """Start a server, list its tools and stop it (for `pynchy doctor`): its tools as
    agents would see them and the warnings about them. McpUnavailable when it does not
    start and list within `timeout` seconds, with the last line it wrote to stderr.
    `settings`: where a container server's engine and image come from."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        launch = await _launch(server, None, settings)
        conn = _Connection(server, errlog if server.command else None, launch)
        try:
            await conn.start(timeout)
            return _convert(server, conn.tools)
        except McpUnavailable as exc:
            errlog.seek(0)
            said = [line.strip() for line in errlog.read()[-4000:].splitlines() if line.strip()]
            raise McpUnavailable(f"{exc}" + (f" (it said: {said[-1]})" if said else "")) from None
        finally:
            await conn.close()


def check_arguments(tool: McpTool, arguments: Any) -> str | None:
    """Why these arguments do not fit the tool's input schema, or None if they do."""
    if not isinstance(arguments, dict):
        return "arguments must be an object"
    validator = jsonschema.validators.validator_for(tool.input_schema)(tool.input_schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"invalid arguments for {tool.name}: " + (f"{where}: " if where else "") + error.message


def result_text(result: Any) -> str:
    """The text an agent gets from a CallToolResult."""
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource link {block.uri}]")
        else:
            parts.append(f"[{kind} content ({getattr(block, 'mime_type', '?')}) not shown]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    return trim_text(text, MAX_TOOL_OUTPUT)  # the run trims again to its own limit


class McpHost:
    """The MCP servers of one run: their tools, the gate before each call, and cleanup."""

    def __init__(
        self,
        servers: list[McpServer],
        log_dir: Path | None = None,
        place: McpPlace | None = None,
    ):
        """`place`: the run's group and workspace (None: servers that see no workspace)."""
        self.place = place
        self.warnings: list[str] = []
        self.servers = {s.name: s for s in servers if self._may_run(s)}
        self.tools: dict[str, McpTool] = {}
        self.log_dir = log_dir
        self._conns: dict[str, _Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._logs: list[IO[str]] = []
        folder = place.workspace if place is not None else None
        self._paths = WorkspacePaths(folder) if folder is not None else None

    def _may_run(self, server: McpServer) -> bool:
        """A server that needs what this run does not have is left out, with a warning."""
        if server.sees_workspace and self.place is None:
            self.warnings.append(f"MCP server {server.name} left out: it needs a group's workspace")
            return False
        if server.shareable and server.network and self.place and not self.place.network:
            self.warnings.append(
                f"MCP server {server.name} left out: it is shared with a network, and the"
                " group's security profile does not allow one"
            )
            return False
        if server.container and server.network and self.place and not self.place.network:
            self.warnings.append(
                f"MCP server {server.name} runs without a network: the group's security"
                " profile does not allow one"
            )
        return True

    async def list_tools(self) -> list[dict[str, Any]]:
        """The tool specs of every server (started where no recent listing is known)."""
        # return_exceptions: a cancel returns once every server's start has ended, not at
        # the first one cancelled (the others' would be left running).
        listings = await asyncio.gather(
            *(self._listing(s) for s in self.servers.values()), return_exceptions=True
        )
        failures = [x for x in listings if isinstance(x, BaseException)]
        if failures:
            raise failures[0]
        for server, tools in zip(self.servers.values(), listings, strict=True):
            for tool in tools or []:
                self.tools[tool.name] = tool
            if tools is not None:
                log.debug("mcp server %s: %d tools", server.name, len(tools))
        return [t.spec for t in self.tools.values()]

    async def _listing(self, server: McpServer) -> list[McpTool] | None:
        cached = _LISTINGS.get(server.identity())
        if cached and time.monotonic() - cached[0] < LISTING_TTL:
            return cached[1]
        try:
            conn = await self._connect(server)
        except McpUnavailable as exc:
            self.warnings.append(f"MCP server {server.name} did not start: {exc}")
            return None
        tools, warnings = _convert(server, conn.tools)
        self.warnings.extend(warnings)
        _LISTINGS[server.identity()] = (time.monotonic(), tools)
        return tools

    def _pool_key(self, server: McpServer) -> tuple[Any, ...]:
        group = None if server.shareable or self.place is None else self.place.group
        return (server.identity(), group)

    async def _connect(self, server: McpServer) -> _Connection:
        if server.pooled:
            key = self._pool_key(server)
            return await current_pool().connection(
                key, server.idle_stop, lambda: self._start(server, pooled=True)
            )
        lock = self._locks.setdefault(server.name, asyncio.Lock())
        async with lock:
            conn = self._conns.get(server.name)
            if conn is not None and conn.session is not None:
                return conn
            if conn is not None:  # it died; try once more
                await conn.close()
            conn = self._conns[server.name] = await self._start(server)
            return conn

    async def _start(self, server: McpServer, pooled: bool = False) -> _Connection:
        launch = await _launch(server, self.place, getattr(self.place, "settings", None))
        errlog = self._errlog(server, keep=not pooled)
        conn = _Connection(server, errlog, launch, owns_errlog=pooled)
        try:
            await conn.start(START_TIMEOUT)
        except McpUnavailable:
            _LISTINGS.pop(server.identity(), None)
            raise
        return conn

    def _errlog(self, server: McpServer, keep: bool = True) -> IO[str] | None:
        """The server's stderr log; the run closes it (`keep`), or else its connection."""
        if not server.command or self.log_dir is None:
            return None
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            handle = (self.log_dir / f"mcp-{server.name}.log").open("a", buffering=1)
        except OSError:
            return None
        if keep:
            self._logs.append(handle)
        return handle

    def rules(self) -> dict[str, tuple[ToolRule, str]]:
        """Each listed tool's tier and flags, with its server's name."""
        return {
            name: (self.servers[t.server].rule(t.tool, t.annotations), t.server)
            for name, t in self.tools.items()
        }

    def check(self, name: str, arguments: Any) -> str | None:
        """Why these arguments do not fit the tool's input schema, or name something
        outside the workspace of a server that maps paths; None when they are fine."""
        tool = self.tools.get(name)
        if tool is None:
            return f"unknown tool {name}"
        problem = check_arguments(tool, arguments)
        if problem is None and self.servers[tool.server].map_paths:
            try:
                self._host_arguments(tool, arguments)
            except PathRefused as exc:
                return f"refused: {exc}"
        return problem

    def _host_arguments(self, tool: McpTool, arguments: dict[str, Any]) -> dict[str, Any]:
        assert self._paths is not None  # map_paths servers run only with a place
        return self._paths.arguments(arguments, tool.input_schema)

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """Call a tool the gate allowed (arguments checked by `check`): (text, is_error)."""
        tool = self.tools[name]
        server = self.servers[tool.server]
        if server.map_paths:
            try:  # again: the workspace may have changed since the check
                arguments = self._host_arguments(tool, arguments)
            except PathRefused as exc:
                return f"refused: {exc}", True
        try:
            conn = await self._connect(server)
        except McpUnavailable as exc:
            return f"the MCP server {server.name} is not available: {exc}", True
        using = current_pool().using(self._pool_key(server)) if server.pooled else None
        try:
            with using or contextlib.nullcontext():
                result = await asyncio.wait_for(
                    conn.session.call_tool(tool.tool, arguments), server.timeout
                )
        except TimeoutError:
            return f"{name} did not answer within {server.timeout:g}s", True
        except Exception as exc:  # the server broke: start it afresh on the next call
            with contextlib.suppress(Exception):
                await conn.close()
            return f"{name} failed: {_reason(exc)}", True
        text = result_text(result)
        if server.map_paths and self._paths is not None:
            text = self._paths.to_agent(text)  # never the workspace's host path
        return text, bool(result.is_error)

    async def aclose(self) -> None:
        """Stop the servers this run started; pooled ones stop when idle."""
        conns, self._conns = list(self._conns.values()), {}
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        for handle in self._logs:
            with contextlib.suppress(OSError):
                handle.close()
        self._logs.clear()
