"""A local server speaking the Anthropic Messages API: POST /v1/messages.

Shapes follow the API reference: a response is a `message` object with content blocks
(text, thinking, tool_use), a stop_reason and usage (with the cache counters); errors are
`{"type": "error", "error": {"type", "message"}, "request_id"}`. Authentication is the
`x-api-key` header or `Authorization: Bearer` (the SDK 2.x sends the latter);
`anthropic-version` is required. A `"stream": true` request gets the
documented server-sent events (message_start, content_block_start/delta/stop,
message_delta, message_stop).
"""

from __future__ import annotations

import json
from typing import Any

from . import ApiError, FakeServer, RecordedRequest, Response, require

_BLOCK_TYPES = {
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
}
_ERROR_KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class AnthropicServer(FakeServer):
    routes = {"/v1/messages": "messages"}

    # --- scripting --------------------------------------------------------------------

    def reply(
        self,
        content: list[dict[str, Any]],
        stop_reason: str = "end_turn",
        usage: dict[str, int] | None = None,
        model: str | None = None,
    ) -> None:
        """Queue one model turn with the given content blocks."""
        self.replies.append(
            {"content": content, "stop_reason": stop_reason, "usage": usage or {}, "model": model}
        )

    def reply_text(
        self, text: str, *, thinking: str | None = None, stop_reason: str = "end_turn", **kw: Any
    ) -> None:
        content: list[dict[str, Any]] = []
        if thinking is not None:
            content.append(
                {"type": "thinking", "thinking": thinking, "signature": "fake-signature"}
            )
        content.append({"type": "text", "text": text})
        self.reply(content, stop_reason, **kw)

    def reply_tool_use(
        self,
        name: str,
        input: dict[str, Any],
        *,
        text: str | None = None,
        id: str | None = None,
        **kw: Any,
    ) -> str:
        """Queue a turn that calls one tool; returns the tool_use id."""
        tool_id = id or f"toolu_fake{self.next_id():04d}"
        content: list[dict[str, Any]] = []
        if text:
            content.append({"type": "text", "text": text})
        content.append({"type": "tool_use", "id": tool_id, "name": name, "input": input})
        self.reply(content, "tool_use", **kw)
        return tool_id

    # --- wire format ------------------------------------------------------------------

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        kind = _ERROR_KINDS.get(status, kind)
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": f"req_fake{self.next_id():06d}",
        }

    def failure_kind(self, status: int) -> tuple[str, str]:
        if status == 529:
            return "overloaded_error", "Overloaded"
        if status == 429:
            return "rate_limit_error", "Rate limited"
        return _ERROR_KINDS.get(status, "api_error"), "Internal server error"

    @staticmethod
    def presented_key(request: RecordedRequest) -> str | None:
        """The key a request carried: `x-api-key`, or `Authorization: Bearer` (which the
        SDK 2.x sends)."""
        if "x-api-key" in request.headers:
            return request.headers["x-api-key"]
        auth = request.headers.get("authorization", "")
        return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None

    def check_auth(self, request: RecordedRequest) -> None:
        if self.key is not None:
            require(
                self.presented_key(request) == self.key,
                "invalid x-api-key",
                401,
                "authentication_error",
            )
        require("anthropic-version" in request.headers, "anthropic-version: header is required")

    def messages(self, request: RecordedRequest) -> Response:
        body = request.body
        validate(body)
        reply = self._next_reply()
        usage = {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            **reply["usage"],
        }
        message = {
            "id": f"msg_fake{self.next_id():06d}",
            "type": "message",
            "role": "assistant",
            "model": reply["model"] or body["model"],
            "content": reply["content"],
            "stop_reason": reply["stop_reason"],
            "stop_sequence": None,
            "usage": usage,
        }
        if body.get("stream"):
            return Response(200, sse=stream_events(message))
        return Response(200, message, {"request-id": f"req_fake{self.next_id():06d}"})


def validate(body: dict[str, Any]) -> None:
    """The checks the real API makes that a wrong mapping would trip."""
    require(isinstance(body.get("model"), str) and body["model"], "model: Field required")
    require(
        isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0,
        "max_tokens: Field required",
    )
    messages = body.get("messages")
    require(isinstance(messages, list) and messages, "messages: at least one message is required")
    system = body.get("system")
    if system is not None:
        require(
            isinstance(system, str)
            or (
                isinstance(system, list)
                and all(b.get("type") == "text" and b.get("text") for b in system)
            ),
            "system: must be a string or a list of non-empty text blocks",
        )
    for t, tool in enumerate(body.get("tools") or []):
        require(isinstance(tool.get("name"), str) and tool["name"], f"tools.{t}.name: required")
        schema = tool.get("input_schema")
        require(
            isinstance(schema, dict) and schema.get("type") == "object",
            f"tools.{t}.input_schema: must be a JSON schema of type object",
        )
    pending: set[str] = set()  # tool_use ids the next user turn must answer
    for i, message in enumerate(messages):
        role = message.get("role")
        require(role in ("user", "assistant"), f"messages.{i}.role: must be user or assistant")
        content = message.get("content")
        if isinstance(content, str):
            require(bool(content), f"messages.{i}.content: must not be empty")
            content = [{"type": "text", "text": content}]
        require(
            isinstance(content, list) and content, f"messages.{i}.content: must be a non-empty list"
        )
        answered: set[str] = set()
        used: set[str] = set()
        for j, block in enumerate(content):
            where = f"messages.{i}.content.{j}"
            kind = block.get("type")
            require(kind in _BLOCK_TYPES, f"{where}.type: unknown block type {kind!r}")
            if kind == "text":
                require(
                    isinstance(block.get("text"), str) and block["text"],
                    f"{where}: text content blocks must be non-empty",
                )
            elif kind == "thinking":
                require(role == "assistant", f"{where}: thinking only in assistant turns")
                require(
                    isinstance(block.get("signature"), str),
                    f"{where}.thinking.signature: Field required",
                )
            elif kind == "tool_use":
                require(role == "assistant", f"{where}: tool_use only in assistant turns")
                require(
                    isinstance(block.get("id"), str)
                    and isinstance(block.get("name"), str)
                    and isinstance(block.get("input"), dict),
                    f"{where}: tool_use needs id, name and an input object",
                )
                used.add(block["id"])
            elif kind == "tool_result":
                require(role == "user", f"{where}: tool_result only in user turns")
                tool_id = block.get("tool_use_id")
                require(
                    tool_id in pending,
                    f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{tool_id}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message.",
                )
                result = block.get("content", "")
                require(isinstance(result, str | list), f"{where}.content: must be str or list")
                if "is_error" in block:
                    require(isinstance(block["is_error"], bool), f"{where}.is_error: bool")
                answered.add(tool_id)
        if role == "user":
            missing = pending - answered
            require(
                not missing,
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(sorted(missing))}",
            )
            pending = set()
        else:
            pending = used


def stream_events(message: dict[str, Any]) -> list[str]:
    """The message as the documented stream of server-sent events."""

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {**message["usage"], "output_tokens": 1},
    }
    out = [event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            empty, delta = (
                {"type": "text", "text": ""},
                {"type": "text_delta", "text": block["text"]},
            )
        elif kind == "thinking":
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            delta = {"type": "thinking_delta", "thinking": block["thinking"]}
        elif kind == "tool_use":
            empty = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            raise ApiError(500, "api_error", f"fake server cannot stream {kind} blocks")
        out.append(
            event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
        )
        out.append(
            event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        )
        if kind == "thinking":
            out.append(
                event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": block["signature"]},
                    },
                )
            )
        out.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
    )
    out.append(event("message_stop", {"type": "message_stop"}))
    return out
