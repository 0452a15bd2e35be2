"""Helpers of the X plugin's tests: the settings that reach the local X API, and
`x_tools(env)`, which runs the plugin's MCP server as pynchy does (`python -m
pynchy_x.server` over stdio) and calls its tools."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from x_fake import ACCESS_SECRET, ACCESS_TOKEN, CONSUMER_KEY, CONSUMER_SECRET, FakeX

Call = Callable[..., Awaitable[tuple[str, bool]]]


def oauth1_env(fake: FakeX, **extra: str) -> dict[str, str]:
    return {
        "X_CONSUMER_KEY": CONSUMER_KEY,
        "X_CONSUMER_SECRET": CONSUMER_SECRET,
        "X_ACCESS_TOKEN": ACCESS_TOKEN,
        "X_ACCESS_TOKEN_SECRET": ACCESS_SECRET,
        "X_API_URL": fake.url,
        **extra,
    }


@asynccontextmanager
async def x_tools(env: dict[str, str]) -> AsyncIterator[tuple[ClientSession, Call]]:
    """The MCP server with this environment; call(tool, **arguments) -> (text, is_error)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "pynchy_x.server"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(tool: str, **arguments: Any) -> tuple[str, bool]:
            result = await session.call_tool(tool, arguments)
            text = "\n".join(block.text for block in result.content if block.type == "text")
            return text, bool(result.is_error)

        yield session, call
