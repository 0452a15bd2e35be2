"""Run the browser's MCP server as pynchy does (the factory's command and environment,
over stdio) and call its tools with each call stamped by the plugin's before_tool hook,
as pynchy's host does before every call."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pynchy_browser.container import container_name
from pynchy_browser.plugin import browser_server, pynchy_before_tool
from site_server import TEST_NETWORK

from pynchy_cli import RunInfo, testing

Call = Callable[..., Awaitable[tuple[Any, bool]]]


def settings(**table: Any) -> Any:
    return testing.plugin_settings("browser", {"network": TEST_NETWORK, **table})


def run_info(workspace: Path, group: str = "main", run_id: str = "run-1") -> RunInfo:
    return RunInfo(run_id, group, workspace, "", "scripted", "process", None, settings())


@asynccontextmanager
async def browser_tools(
    workspace: Path, group: str = "main", **table: Any
) -> AsyncIterator[tuple[ClientSession, Call]]:
    """call(tool, **arguments) -> (the answer, JSON decoded when it is, is_error)."""
    server = browser_server(settings(**table))
    assert server.command is not None
    params = StdioServerParameters(
        command=server.command[0], args=server.command[1:], env=server.env
    )
    info = run_info(workspace, group)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(tool: str, **arguments: Any) -> tuple[Any, bool]:
            stamped = pynchy_before_tool(info, f"mcp__browser__{tool}", arguments) or arguments
            result = await session.call_tool(tool, stamped)
            text = "\n".join(block.text for block in result.content if block.type == "text")
            text = text.removeprefix(f"Error executing tool {tool}: ")  # the SDK's
            try:
                return json.loads(text), bool(result.is_error)
            except ValueError:
                return text, bool(result.is_error)

        yield session, call


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True)


def container_of(workspace: Path, group: str = "main") -> str:
    return container_name(group, str(workspace))


def exists(name: str) -> bool:
    return podman("container", "exists", name).returncode == 0


def gone(name: str, within: float = 30.0) -> bool:
    """Whether the container is gone, waiting up to `within` seconds (a removal pynchy's
    side started without waiting for it, or a browser's idle stop)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not exists(name):
            return True
        time.sleep(0.25)
    return False
