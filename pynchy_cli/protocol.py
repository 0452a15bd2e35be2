"""The wire format between the host and an agent container. Dependency-free (stdlib only):
this file is copied into the agent image as-is.

Transport: one unix stream socket per run, in a folder mounted into the container.
The container sends one JSON object per line (a Request); the host answers each with
one JSON line (a Reply), in order, on the same connection. Every request carries the
run's token and group; the host refuses anything else and keeps serving.

Model calls use a provider-neutral message format (close to the Anthropic Messages API);
the host translates it to the run's provider and adds the real credentials.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1

# Paths and variables inside the container.
SOCKET_DIR = "/run/pynchy"
SOCKET_NAME = "pynchy.sock"
WORKSPACE = "/workspace"
GLOBAL_MEMORY = "/memory/global"
ENV_SOCKET = "PYNCHY_SOCKET"
ENV_TOKEN = "PYNCHY_RUN_TOKEN"
ENV_GROUP = "PYNCHY_GROUP"
ENV_RUN_ID = "PYNCHY_RUN_ID"
ENV_WORKSPACE = "PYNCHY_WORKSPACE"

# Request operations (container -> host).
OP_INPUT = "input"  # fetch the RunInput
OP_MODEL = "model"  # body: ModelRequest -> reply body: ModelResponse
OP_TOOL = "tool"  # body: {"name", "input"} -> reply body: {"content", "is_error"}
OP_EVENT = "event"  # body: Event -> reply body: {}
OP_FOLLOWUP = "followup"  # wait for more input: body {"wait": seconds} -> {"prompt": str|None}
# Ask before running a local tool: body {"id", "name", "input"} -> reply body
# {"allow": bool, "input": {...} (the arguments to use), "reason": str (when refused)}.
# Sent only for the tools the run input lists under "tool_checks" (a key older hosts do
# not send, so older hosts never get this op, and older runners never send it).
OP_TOOL_CHECK = "tool_check"
OPS = (OP_INPUT, OP_MODEL, OP_TOOL, OP_EVENT, OP_FOLLOWUP, OP_TOOL_CHECK)

# Event kinds (the transcript).
EVENT_KINDS = ("text", "tool_use", "tool_result", "thinking", "usage", "result", "error")

# Content block types of the neutral model format.
BLOCK_TYPES = ("text", "tool_use", "tool_result", "thinking")
STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal")

MAX_TOOL_OUTPUT = 100_000  # characters of one tool result sent back to the model


class ProtocolError(ValueError):
    """A message that does not follow this protocol."""


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes | str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("a message must be a JSON object")
    return obj


def request(token: str, group: str, op: str, body: dict[str, Any] | None = None) -> bytes:
    return encode({"v": VERSION, "token": token, "group": group, "op": op, "body": body or {}})


def reply_ok(body: dict[str, Any] | None = None) -> bytes:
    return encode({"ok": True, "body": body or {}})


def reply_error(message: str) -> bytes:
    return encode({"ok": False, "error": message})


# --- validation helpers (used by the host on everything a container sends) ---------------


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ProtocolError(message)


def check_request(obj: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """Return (token, group, op, body) of a well-formed request or raise ProtocolError."""
    _require(obj.get("v") == VERSION, f"unsupported protocol version {obj.get('v')!r}")
    token, group, op, body = obj.get("token"), obj.get("group"), obj.get("op"), obj.get("body")
    _require(isinstance(token, str) and 0 < len(token) <= 256, "missing token")
    _require(isinstance(group, str) and 0 < len(group) <= 64, "missing group")
    _require(op in OPS, f"unknown op {op!r}")
    _require(isinstance(body, dict), "body must be an object")
    return token, group, op, body


def check_block(block: Any) -> dict[str, Any]:
    _require(isinstance(block, dict), "a content block must be an object")
    kind = block.get("type")
    _require(kind in BLOCK_TYPES, f"unknown block type {kind!r}")
    if kind == "text":
        _require(isinstance(block.get("text"), str), "text block needs text")
        return {"type": "text", "text": block["text"]}
    if kind == "thinking":
        _require(isinstance(block.get("thinking"), str), "thinking block needs thinking")
        return {"type": "thinking", "thinking": block["thinking"]}
    if kind == "tool_use":
        _require(isinstance(block.get("id"), str), "tool_use needs an id")
        _require(isinstance(block.get("name"), str), "tool_use needs a name")
        _require(isinstance(block.get("input"), dict), "tool_use input must be an object")
        return {
            "type": "tool_use",
            "id": block["id"],
            "name": block["name"],
            "input": block["input"],
        }
    _require(isinstance(block.get("tool_use_id"), str), "tool_result needs tool_use_id")
    content = block.get("content", "")
    _require(isinstance(content, str), "tool_result content must be a string")
    return {
        "type": "tool_result",
        "tool_use_id": block["tool_use_id"],
        "content": content,
        "is_error": bool(block.get("is_error", False)),
    }


def check_messages(messages: Any) -> list[dict[str, Any]]:
    _require(isinstance(messages, list) and messages, "messages must be a non-empty list")
    out = []
    for message in messages:
        _require(isinstance(message, dict), "a message must be an object")
        role = message.get("role")
        _require(role in ("user", "assistant"), f"unknown role {role!r}")
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        _require(isinstance(content, list), "message content must be a list of blocks")
        out.append({"role": role, "content": [check_block(b) for b in content]})
    return out


def check_model_request(body: dict[str, Any]) -> dict[str, Any]:
    """A ModelRequest: {"messages": [...], "tools": [names], "max_tokens": int}."""
    tools = body.get("tools", [])
    _require(
        isinstance(tools, list) and all(isinstance(t, str) for t in tools),
        "tools must be a list of tool names",
    )
    max_tokens = body.get("max_tokens", 4096)
    _require(isinstance(max_tokens, int) and 0 < max_tokens <= 64_000, "bad max_tokens")
    return {
        "messages": check_messages(body.get("messages")),
        "tools": tools,
        "max_tokens": max_tokens,
    }


def check_event(body: dict[str, Any]) -> dict[str, Any]:
    kind = body.get("kind")
    _require(kind in EVENT_KINDS, f"unknown event kind {kind!r}")
    data = body.get("data", {})
    _require(isinstance(data, dict), "event data must be an object")
    return {"kind": kind, "data": data}


def tool_spec(
    name: str, description: str, properties: dict[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    """A tool the model can call, as JSON Schema (the format both providers take)."""
    return {
        "name": name,
        "description": description,
        "input_schema": {
            "type": "object",
            "properties": properties,
            "required": required or [],
        },
    }


# --- the tools that act inside the container (their code is in pynchy_agent.tools) --------

LOCAL_TOOLS: list[dict[str, Any]] = [
    tool_spec(
        "read_file",
        "Read a text file in the workspace. Returns numbered lines.",
        {
            "path": {"type": "string", "description": "path relative to the workspace"},
            "offset": {"type": "integer", "description": "first line (1-based)"},
            "limit": {"type": "integer", "description": "number of lines"},
        },
        ["path"],
    ),
    tool_spec(
        "write_file",
        "Create or overwrite a file in the workspace with the given content.",
        {"path": {"type": "string"}, "content": {"type": "string"}},
        ["path", "content"],
    ),
    tool_spec(
        "edit_file",
        "Replace one exact occurrence of old_text with new_text in a workspace file.",
        {
            "path": {"type": "string"},
            "old_text": {"type": "string"},
            "new_text": {"type": "string"},
            "replace_all": {"type": "boolean"},
        },
        ["path", "old_text", "new_text"],
    ),
    tool_spec(
        "list_files",
        "List files matching a glob pattern (default '**/*') under a workspace folder.",
        {"pattern": {"type": "string"}, "path": {"type": "string"}},
    ),
    tool_spec(
        "grep",
        "Search file contents with a regular expression; returns path:line:text matches.",
        {
            "pattern": {"type": "string"},
            "path": {"type": "string"},
            "glob": {"type": "string", "description": "only files matching this glob"},
        },
        ["pattern"],
    ),
    tool_spec(
        "bash",
        "Run a shell command in the workspace. Returns exit code, stdout and stderr.",
        {
            "command": {"type": "string"},
            "timeout": {"type": "integer", "description": "seconds (default 120, max 600)"},
        },
        ["command"],
    ),
]
LOCAL_TOOL_NAMES = tuple(t["name"] for t in LOCAL_TOOLS)
