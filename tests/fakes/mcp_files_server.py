"""An MCP server that reads and writes files by path, like most third-party file servers.

Standard library only, so it runs unchanged on the host (`map_paths`) and inside the agent
image or an image built from it (`container = true`), where no `mcp` package is installed.
It speaks MCP over stdio as the specification has it: newline-delimited JSON-RPC 2.0,
`initialize` (answering the protocol version the client asked for), then `tools/list` and
`tools/call`; a tool's failure is a result with `isError: true`, as servers report them.

Paths are taken as given (relative ones from the working folder), so a test can tell
exactly which file system the server saw.
"""

from __future__ import annotations

import json
import os
import sys

PATH = {"type": "string", "description": "a file path"}
TOOLS = [
    {
        "name": "read_file",
        "description": "Read a text file.",
        "inputSchema": {"type": "object", "properties": {"path": PATH}, "required": ["path"]},
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    {
        "name": "write_file",
        "description": "Write a text file (its folders are made).",
        "inputSchema": {
            "type": "object",
            "properties": {"path": PATH, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
        "annotations": {"readOnlyHint": False, "destructiveHint": False, "openWorldHint": False},
    },
    {
        "name": "copy_files",
        "description": "Copy files into a folder.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "sources": {"type": "array", "items": {"type": "string"}},
                "options": {
                    "type": "object",
                    "properties": {"destination_dir": {"type": "string", "format": "path"}},
                },
            },
            "required": ["sources", "options"],
        },
        "annotations": {"readOnlyHint": False, "destructiveHint": False, "openWorldHint": False},
    },
    {
        "name": "about",
        "description": "Where the server runs: pid, uid, cwd, network interfaces, its secret.",
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
]


def call(name: str, args: dict) -> str:
    if name == "read_file":
        with open(args["path"], encoding="utf-8") as fh:
            return fh.read()
    if name == "write_file":
        folder = os.path.dirname(args["path"])
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args["path"], "w", encoding="utf-8") as fh:
            fh.write(args["content"])
        return f"wrote {len(args['content'])} characters to {os.path.abspath(args['path'])}"
    if name == "copy_files":
        dest = args["options"]["destination_dir"]
        os.makedirs(dest, exist_ok=True)
        for source in args["sources"]:
            with open(source, encoding="utf-8") as src:
                text = src.read()
            with open(os.path.join(dest, os.path.basename(source)), "w", encoding="utf-8") as out:
                out.write(text)
        return f"copied {len(args['sources'])} file(s) to {dest}"
    if name == "about":
        interfaces = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []
        return json.dumps(
            {
                "pid": os.getpid(),
                "uid": os.getuid(),
                "cwd": os.getcwd(),
                "interfaces": interfaces,
                "secret_length": len(os.environ.get("FILES_TOKEN", "")),
                "workspace_files": sorted(os.listdir("/workspace"))
                if os.path.isdir("/workspace")
                else None,
            }
        )
    raise ValueError(f"unknown tool {name}")


def answer(message: dict) -> dict | None:
    method, ident = message.get("method"), message.get("id")
    if ident is None:
        return None  # a notification (notifications/initialized, cancelled, ...)
    if method == "initialize":
        result = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "files", "version": "1.0"},
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        params = message["params"]
        try:
            text, failed = call(params["name"], params.get("arguments") or {}), False
        except (OSError, ValueError, KeyError) as exc:
            text, failed = f"{type(exc).__name__}: {exc}", True
        result = {"content": [{"type": "text", "text": text}], "isError": failed}
    else:
        error = {"code": -32601, "message": f"Method not found: {method}"}
        return {"jsonrpc": "2.0", "id": ident, "error": error}
    return {"jsonrpc": "2.0", "id": ident, "result": result}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = answer(json.loads(line))
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
