"""A local server speaking OpenAI chat completions: POST /v1/chat/completions, GET /v1/models.

Shapes follow the API reference: a `chat.completion` object with one choice whose message
has `content` and `tool_calls` (`{"id", "type": "function", "function": {"name",
"arguments": JSON string}}`), a finish_reason and usage (prompt/completion tokens, with
`prompt_tokens_details.cached_tokens`); errors are `{"error": {"message", "type", "param",
"code"}}`. Authentication is `Authorization: Bearer KEY`. `base_url` ends in `/v1`, like
Ollama's or vLLM's. A `"stream": true` request gets `chat.completion.chunk` events and
`data: [DONE]`.

The 401 message quotes the presented key in full. The real API quotes it masked; being
worse than the real thing here is what lets tests prove pynchy never repeats it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from . import FakeServer, RecordedRequest, Response, require

_ROLES = ("system", "developer", "user", "assistant", "tool")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


class OpenAIServer(FakeServer):
    routes = {"/v1/chat/completions": "chat_completions", "/v1/models": "list_models"}
    get_routes = frozenset({"/v1/models"})
    base_path = "/v1"
    models: tuple[str, ...] = ("gpt-4.1-mini",)  # what GET /v1/models lists; set per test

    # --- scripting --------------------------------------------------------------------

    def reply(
        self,
        message: dict[str, Any],
        finish_reason: str = "stop",
        usage: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> None:
        """Queue one assistant message (the `choices[0].message` object)."""
        self.replies.append(
            {
                "message": {"role": "assistant", "content": None, "refusal": None, **message},
                "finish_reason": finish_reason,
                "usage": usage or {},
                "model": model,
            }
        )

    def reply_text(self, text: str, *, finish_reason: str = "stop", **kw: Any) -> None:
        self.reply({"content": text}, finish_reason, **kw)

    def reply_tool_call(
        self,
        name: str,
        arguments: dict[str, Any] | str,
        *,
        text: str | None = None,
        id: str | None = None,
        finish_reason: str = "tool_calls",
        **kw: Any,
    ) -> str:
        """Queue a turn that calls one function. `arguments` may be a raw string, to send
        malformed JSON as models sometimes do. Returns the call id."""
        call_id = id or f"call_fake{self.next_id():04d}"
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}
        self.reply({"content": text, "tool_calls": [call]}, finish_reason, **kw)
        return call_id

    # --- wire format ------------------------------------------------------------------

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        code = "invalid_api_key" if status == 401 else None
        return {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(status, kind),
                "param": None,
                "code": code,
            }
        }

    def failure_kind(self, status: int) -> tuple[str, str]:
        if status == 429:
            return "rate_limit_exceeded", "Rate limit reached"
        return "server_error", "The server had an error while processing your request."

    def check_auth(self, request: RecordedRequest) -> None:
        if self.key is None:
            return
        header = request.headers.get("authorization", "")
        presented = header.removeprefix("Bearer ").strip()
        require(
            presented == self.key,
            f"Incorrect API key provided: {presented}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            401,
        )

    def list_models(self, request: RecordedRequest) -> Response:
        """GET /v1/models: `{"object": "list", "data": [{"id", "object": "model",
        "created", "owned_by"}]}`, as OpenAI, Ollama, llama-server and vLLM answer it."""
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "local"}
            for m in self.models
        ]
        return Response(200, {"object": "list", "data": data})

    def chat_completions(self, request: RecordedRequest) -> Response:
        body = request.body
        validate(body)
        reply = self._next_reply()
        usage = {"prompt_tokens": 20, "completion_tokens": 7, **reply["usage"]}
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        completion = {
            "id": f"chatcmpl-fake{self.next_id():06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply["model"] or body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": reply["message"],
                    "finish_reason": reply["finish_reason"],
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }
        if body.get("stream"):
            return Response(200, sse=stream_chunks(completion))
        return Response(200, completion)


def validate(body: dict[str, Any]) -> None:
    """The checks the real API makes that a wrong mapping would trip."""
    require(
        isinstance(body.get("model"), str) and body["model"], "you must provide a model parameter"
    )
    messages = body.get("messages")
    require(isinstance(messages, list) and messages, "[] is too short - 'messages'")
    for key in ("max_tokens", "max_completion_tokens"):
        if body.get(key) is not None:
            require(isinstance(body[key], int) and body[key] > 0, f"Invalid '{key}'")
    for t, tool in enumerate(body.get("tools") or []):
        require(
            tool.get("type") == "function"
            and isinstance(tool.get("function"), dict)
            and isinstance(tool["function"].get("name"), str),
            f"Invalid 'tools[{t}]': expected a function tool with a name",
        )
        params = tool["function"].get("parameters")
        require(
            params is None or isinstance(params, dict),
            f"Invalid 'tools[{t}].function.parameters': expected an object",
        )
    pending: list[str] = []  # tool_call ids still to be answered by tool messages
    for i, message in enumerate(messages):
        role = message.get("role")
        require(
            role in _ROLES,
            f"Invalid value: '{role}'. Supported values are: "
            f"{', '.join(_ROLES)}. ('messages[{i}].role')",
        )
        if role == "tool":
            call_id = message.get("tool_call_id")
            require(
                call_id in pending,
                "Invalid parameter: messages with role 'tool' must be a response to a "
                "preceeding message with 'tool_calls'.",
            )
            require(
                isinstance(message.get("content"), str | list),
                f"Invalid 'messages[{i}].content': expected a string",
            )
            pending.remove(call_id)
            continue
        require(
            not pending,
            "An assistant message with 'tool_calls' must be followed by tool messages "
            f"responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(pending)}",
        )
        if role == "assistant":
            calls = message.get("tool_calls") or []
            require(
                message.get("content") is not None or calls,
                f"Invalid 'messages[{i}]': assistant content or tool_calls required",
            )
            for c, call in enumerate(calls):
                fn = call.get("function") or {}
                require(
                    call.get("type") == "function"
                    and isinstance(call.get("id"), str)
                    and isinstance(fn.get("name"), str),
                    f"Invalid 'messages[{i}].tool_calls[{c}]'",
                )
                require(
                    isinstance(fn.get("arguments"), str),
                    f"Invalid type for 'messages[{i}].tool_calls[{c}].function.arguments': "
                    "expected a string",
                )
                pending.append(call["id"])
        else:
            require(
                isinstance(message.get("content"), str | list),
                f"Invalid 'messages[{i}].content': expected a string or an array",
            )


def stream_chunks(completion: dict[str, Any]) -> list[str]:
    """The completion as `chat.completion.chunk` server-sent events."""
    choice = completion["choices"][0]
    message = choice["message"]
    base = {k: completion[k] for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(data)}\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    if message.get("content"):
        out.append(chunk({"content": message["content"]}))
    for index, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        out.append(
            chunk({"tool_calls": [{"index": index, "function": {"arguments": fn["arguments"]}}]})
        )
    out.append(chunk({}, choice["finish_reason"]))
    out.append(f"data: {json.dumps({**base, 'choices': [], 'usage': completion['usage']})}\n\n")
    out.append("data: [DONE]\n\n")
    return out
