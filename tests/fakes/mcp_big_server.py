"""An MCP server whose tool answers with as much text as it is asked for (the tests of
trimming large tool results). Run as `python mcp_big_server.py` (stdio)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("big", instructions="Returns large texts.")


@server.tool()
def dump(size: int) -> str:
    """Return `size` characters of text."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


if __name__ == "__main__":
    server.run()
