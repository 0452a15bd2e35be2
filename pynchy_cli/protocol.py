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
import re
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
# Summarise the oldest turns of the conversation: body {"messages": [...]} (cut so that no
# tool_use is parted from its tool_result, at most the socket's cap) -> reply body
# {"summary": str}. Sent only when the run input's "context" says {"compact": true}.
OP_COMPACT = "compact"
OPS = (OP_INPUT, OP_MODEL, OP_TOOL, OP_EVENT, OP_FOLLOWUP, OP_TOOL_CHECK, OP_COMPACT)

# Event kinds (the transcript).
EVENT_KINDS = ("text", "tool_use", "tool_result", "thinking", "usage", "result", "error")

# Content block types of the neutral model format.
BLOCK_TYPES = ("text", "tool_use", "tool_result", "thinking")
STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal")

MAX_TOOL_OUTPUT = 100_000  # characters of one tool result sent back to the model
# Lists and objects nested in one request's body at most: deeper is refused before any
# host code walks it (json.dumps and repr recurse, and break near the parser's own limit).
MAX_DEPTH = 64


class ProtocolError(ValueError):
    """A message that does not follow this protocol."""


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes | str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from exc
    except RecursionError:  # "[[[[..." deeper than the parser goes
        raise ProtocolError("not JSON: nested too deeply") from None
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
    _require(_nests_within(body, MAX_DEPTH), f"body nested deeper than {MAX_DEPTH} levels")
    return token, group, op, body


def _nests_within(value: Any, limit: int) -> bool:
    """Whether lists and objects in `value` nest at most `limit` deep (walked without
    recursion, so any depth the parser took is safe to measure)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return False
        # only containers go on the stack: a long conversation is mostly strings
        stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return True


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


class MessageChecker:
    """check_messages for one run's conversation, which every model request sends whole:
    the messages a request repeats from the previous one (compared as sent, in C) are
    not checked again, so a long conversation costs each request only what is new."""

    def __init__(self) -> None:
        self._sent: list[Any] = []
        self._checked: list[dict[str, Any]] = []

    def check(self, messages: Any) -> list[dict[str, Any]]:
        known = len(self._sent)
        repeats = isinstance(messages, list) and known and messages[:known] == self._sent
        if repeats and len(messages) > known:
            checked = [*self._checked, *check_messages(messages[known:])]
        elif repeats:
            checked = list(self._checked)
        else:
            checked = check_messages(messages)
        self._sent, self._checked = list(messages), checked
        return list(checked)


def check_model_request(
    body: dict[str, Any], checker: MessageChecker | None = None
) -> dict[str, Any]:
    """A ModelRequest: {"messages": [...], "tools": [names], "max_tokens": int}."""
    tools = body.get("tools", [])
    _require(
        isinstance(tools, list) and all(isinstance(t, str) for t in tools),
        "tools must be a list of tool names",
    )
    max_tokens = body.get("max_tokens", 4096)
    _require(
        isinstance(max_tokens, int)
        and not isinstance(max_tokens, bool)
        and 0 < max_tokens <= 64_000,
        "bad max_tokens",
    )
    return {
        "messages": (checker or MessageChecker()).check(body.get("messages")),
        "tools": tools,
        "max_tokens": max_tokens,
    }


def check_event(body: dict[str, Any]) -> dict[str, Any]:
    kind = body.get("kind")
    _require(kind in EVENT_KINDS, f"unknown event kind {kind!r}")
    data = body.get("data", {})
    _require(isinstance(data, dict), "event data must be an object")
    return {"kind": kind, "data": data}


# --- the conversation's size (shared by the host and the runner) --------------------------
#
# A model request must fit the model's context window (tokens) and the socket's cap (bytes).
# The run input's "context" says how much room the messages of one request have:
#   {"compact": bool (the host answers OP_COMPACT), "limit_tokens": int, "limit_bytes": int,
#    "compact_at": float, "keep": float, "ascii_chars_per_token": float,
#    "other_char_tokens": float, "max_tool_result": int}
# A conversation's load is the larger of its shares of limit_tokens and limit_bytes. Past
# compact_at, its oldest turns are replaced by a summary until the newest fit in `keep`.

SUMMARY_HEAD = "[pynchy: summary of {turns} earlier model turns, compacted to make room]"
_SUMMARY_TURNS = re.compile(r"\[pynchy: summary of (\d+) earlier model turns")
_TRIM_NOTE = re.compile(r"\[\.\.\. ([\d.]+) (bytes|KB|MB|GB) cut from this \w+: too large \.\.\.\]")
_UNITS = {"bytes": 1, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000}


def human_size(n: int) -> str:
    for unit in ("GB", "MB", "KB"):
        if n >= _UNITS[unit]:
            value = n / _UNITS[unit]
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{n} bytes"


def trim_text(text: str, limit: int, what: str = "output") -> str:
    """At most about `limit` characters: the head and the tail of text around a note that
    says how much was cut (what earlier trims of the same text cut included)."""
    if len(text) <= limit:
        return text
    keep = max(limit - 64, 0)
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    cut = text[head : len(text) - tail]
    size = len(cut.encode("utf-8", "replace"))
    for note in _TRIM_NOTE.finditer(cut):
        size += int(float(note[1]) * _UNITS[note[2]]) - len(note[0])
    note = f"\n[... {human_size(size)} cut from this {what}: too large ...]\n"
    return text[:head] + note + text[len(text) - tail :]


def estimate_tokens(text: str, ascii_chars_per_token: float, other_char_tokens: float) -> int:
    """A conservative token count: ASCII characters per token, tokens per other character."""
    ascii_chars = len(text.encode("ascii", "ignore"))
    other = len(text) - ascii_chars
    return int(ascii_chars / ascii_chars_per_token + other * other_char_tokens) + 1


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content", [])
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def has_tool_result(message: dict[str, Any]) -> bool:
    return any(b.get("type") == "tool_result" for b in blocks_of(message))


def model_turns(messages: list[dict[str, Any]]) -> int:
    """The assistant turns of a conversation, with those its summary stands for."""
    turns = sum(1 for m in messages if m.get("role") == "assistant")
    first = blocks_of(messages[0])[:1] if messages and messages[0].get("role") == "user" else []
    found = _SUMMARY_TURNS.match(str(first[0].get("text", ""))) if first else None
    return turns + (int(found[1]) if found else 0)


def with_summary(summary: str, turns: int, rest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation whose oldest turns (`turns` model turns) `summary` replaces; `rest`
    are the newer turns, kept as they are. The summary opens the first user turn."""
    block = {"type": "text", "text": SUMMARY_HEAD.format(turns=turns) + "\n" + summary}
    if rest and rest[0].get("role") == "user":
        return [{"role": "user", "content": [block, *blocks_of(rest[0])]}, *rest[1:]]
    return [{"role": "user", "content": [block]}, *rest]


class ContextRoom:
    """The room the messages of one model request have (the run input's "context")."""

    def __init__(self, spec: Any = None, *, max_request_bytes: int = 1_048_576):
        spec = spec if isinstance(spec, dict) else {}
        self.compact = spec.get("compact") is True
        self.limit_tokens = max(int(spec.get("limit_tokens", 150_000)), 1_000)
        self.limit_bytes = max(int(spec.get("limit_bytes", max_request_bytes - 65_536)), 16_384)
        self.compact_at = float(spec.get("compact_at", 0.75))
        self.keep = float(spec.get("keep", 0.35))
        self.ascii_chars_per_token = float(spec.get("ascii_chars_per_token", 2.5))
        self.other_char_tokens = float(spec.get("other_char_tokens", 2.0))
        self.max_tool_result = int(spec.get("max_tool_result", MAX_TOOL_OUTPUT))

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def chars(self, share: float) -> int:
        """About how many (ASCII) characters fill `share` of the room."""
        room = min(self.limit_bytes, self.limit_tokens * self.ascii_chars_per_token)
        return max(int(share * room), 1_000)

    def tokens(self, text: str) -> int:
        return estimate_tokens(text, self.ascii_chars_per_token, self.other_char_tokens)

    def size(self, message: dict[str, Any]) -> tuple[int, int]:
        """(bytes, estimated tokens) that one message adds to a model request."""
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        return len(text.encode("utf-8", "replace")) + 1, self.tokens(text) + 4

    def load(self, message: dict[str, Any]) -> float:
        """The share of the room one message takes."""
        size, tokens = self.size(message)
        return max(size / self.limit_bytes, tokens / self.limit_tokens)

    @staticmethod
    def cut(messages: list[dict[str, Any]], loads: list[float], room: float, whole: bool) -> int:
        """How many of the oldest messages to summarise so that the newer ones fit in `room`:
        the fewest, cut where no tool_use is parted from its tool_result (else as many as
        can be). `whole`: every message may go, else the last one stays. 0: no cut."""
        newer, best = sum(loads), 0
        for i in range(1, len(messages) + (1 if whole else 0)):
            newer -= loads[i - 1]
            if i < len(messages) and has_tool_result(messages[i]):
                continue
            best = i
            if newer <= room:
                break
        return best


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
