"""A tiny MCP server written with the SDK's MCPServer class, for the MCP tests.

Run as `python mcp_notes_server.py` (stdio) or `python mcp_notes_server.py --http PORT`.
`record` appends to the file named by NOTES_FILE, so a test can tell whether a call
reached the server; `secret_length` proves the server's environment stays on the host.
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes", instructions="Notes kept in a file on the host.")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def record(text: str, times: int = 1) -> str:
    """Append a line of text to the notes file."""
    with open(os.environ["NOTES_FILE"], "a") as fh:
        for _ in range(times):
            fh.write(text + "\n")
    return f"recorded {text!r}"


@server.tool()
def secret_length() -> str:
    """How long the server's secret is (the secret itself stays with the server)."""
    return f"the secret has {len(os.environ.get('NOTES_SECRET', ''))} characters"


@server.tool()
def fail() -> str:
    """Always fails."""
    raise RuntimeError("this tool always fails")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
