"""The OpenAI chat completions core: OpenAI itself and any compatible server (Ollama, vLLM,
llama.cpp's llama-server, ...) through the account's base_url.

Mapping from the neutral format:
- the system prompt is the first message, role `system`;
- assistant `tool_use` blocks become `tool_calls` with JSON-string arguments;
- user `tool_result` blocks become `{"role": "tool", ...}` messages, placed before any text
  of the same user turn (the API wants them right after the assistant's tool calls);
  `is_error` is marked in the text, as the format has no field for it;
- thinking blocks are not sent back (chat completions has no input form for them).

Usage follows the neutral convention (see base.Usage and pricing): `input_tokens` are the
uncached prompt tokens, `cache_read_tokens` the prompt tokens OpenAI served from its cache.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai

from pynchy_cli.core.agent_cores import sdk_errors
from pynchy_cli.core.agent_cores.base import ModelResult, Usage
from pynchy_cli.core.agent_cores.pricing import cost_usd

PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEY_VAR = "OPENAI_API_KEY"
# Local servers need no key, but the SDK insists on one.
NO_KEY = "not-needed"
ERROR_PREFIX = "ERROR: "

_FINISH = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAICore:
    provider = PROVIDER

    def __init__(
        self,
        model: str,
        api_key: str | None,
        base_url: str | None,
        *,
        max_retries: int = 2,
        timeout: float = 600.0,
    ) -> None:
        self.model = model
        self._key = api_key or NO_KEY
        # Passed explicitly so OPENAI_BASE_URL in the environment cannot redirect an account.
        self._base_url = base_url or DEFAULT_BASE_URL
        self._official = base_url is None or "api.openai.com" in base_url
        self._client = openai.AsyncOpenAI(
            api_key=self._key,
            base_url=self._base_url,
            max_retries=max_retries,
            timeout=httpx2.Timeout(timeout, connect=10.0),
        )

    async def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResult:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(system, messages),
        }
        # OpenAI's reasoning models take only max_completion_tokens; many compatible
        # servers still know only max_tokens.
        params["max_completion_tokens" if self._official else "max_tokens"] = max_tokens
        if tools:
            params["tools"] = [to_openai_tool(t) for t in tools]
        try:
            response = await self._client.chat.completions.create(**params)
        except openai.APIStatusError as exc:
            error = sdk_errors.status_error(
                PROVIDER, exc.status_code, exc.body, secret=self._key, key_var=KEY_VAR
            )
            if exc.status_code in (401, 403):
                raise error from None  # OpenAI's own text quotes part of the key
            raise error from exc
        except openai.APIConnectionError as exc:
            timed_out = isinstance(exc, openai.APITimeoutError)
            raise sdk_errors.connection_error(
                PROVIDER, self._base_url, timed_out=timed_out
            ) from exc
        except openai.APIError as exc:
            raise sdk_errors.other_error(PROVIDER, exc, secret=self._key) from exc
        if not response.choices:
            raise sdk_errors.other_error(
                PROVIDER, ValueError("no choices in the response"), secret=self._key
            )
        return from_openai_completion(response)

    async def aclose(self) -> None:
        await self._client.close()


def to_openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {
        "name": tool["name"],
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def to_openai_messages(system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        texts = [b["text"] for b in content if b.get("type") == "text" and b.get("text")]
        if message["role"] == "assistant":
            calls = [
                {
                    "id": b["id"],
                    "type": "function",
                    "function": {
                        "name": b["name"],
                        "arguments": json.dumps(b.get("input") or {}, ensure_ascii=False),
                    },
                }
                for b in content
                if b.get("type") == "tool_use"
            ]
            if not texts and not calls:
                continue  # only thinking: nothing to send
            entry: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) or None}
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
            continue
        for block in content:
            if block.get("type") == "tool_result":
                text = block.get("content") or ""
                if block.get("is_error"):
                    text = ERROR_PREFIX + (text or "the tool failed")
                out.append(
                    {
                        "role": "tool",
                        "tool_call_id": block["tool_use_id"],
                        "content": text or "(no output)",
                    }
                )
        if texts:
            out.append({"role": "user", "content": "\n\n".join(texts)})
    return out


def parse_arguments(arguments: str | None) -> dict[str, Any]:
    """Tool call arguments as an object. Malformed JSON is passed on as {"_raw": text} so
    the agent answers the model with an error instead of crashing."""
    if arguments is None or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}


def from_openai_completion(response: Any) -> ModelResult:
    choice = response.choices[0]
    message = choice.message
    content: list[dict[str, Any]] = []
    # Reasoning text, as compatible servers return it (vLLM, DeepSeek, Ollama, llama.cpp).
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning})
    if message.content:
        content.append({"type": "text", "text": message.content})
    if message.refusal:
        content.append({"type": "text", "text": message.refusal})
    for i, call in enumerate(message.tool_calls or []):
        call_id = call.id or f"call_{i}"
        if call.type == "function":
            content.append(
                {
                    "type": "tool_use",
                    "id": call_id,
                    "name": call.function.name,
                    "input": parse_arguments(call.function.arguments),
                }
            )
        elif call.type == "custom":
            content.append(
                {
                    "type": "tool_use",
                    "id": call_id,
                    "name": call.custom.name,
                    "input": {"_raw": call.custom.input},
                }
            )
    stop = _FINISH.get(choice.finish_reason or "stop", "end_turn")
    if message.refusal:
        stop = "refusal"
    elif stop == "end_turn" and any(b["type"] == "tool_use" for b in content):
        stop = "tool_use"  # some servers (Ollama) finish tool calls with "stop"
    usage = _usage(response.usage)
    model = response.model or ""
    return ModelResult(
        content=content,
        stop_reason=stop,
        usage=usage,
        model=model,
        cost_usd=cost_usd(model, usage),  # None when the price is unknown
    )


def _usage(u: Any) -> Usage:
    if u is None:
        return Usage()
    details = u.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    prompt = u.prompt_tokens or 0
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=u.completion_tokens or 0,
        cache_read_tokens=cached,
    )
