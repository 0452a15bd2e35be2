"""The Anthropic Messages API core (non-streaming).

The neutral message format is close to the Messages API, so most blocks map 1:1.

Thinking. Current models think by default (adaptive thinking), and the API wants the
thinking blocks of an assistant turn sent back verbatim, with the `signature` they were
issued with, at least within a tool-use cycle. The neutral format carries thinking text
only, so the core keeps each turn's original blocks (thinking with signatures, redacted
thinking) host-side, keyed by a fingerprint of the turn's text and tool calls, and replays
them when that turn comes back in a later request. A turn the core has not seen (a session
resumed by another run) is sent without its thinking: the API accepts that for turns that
ended, and a signature cannot be rebuilt anyway. Empty (omitted-display) thinking and
redacted thinking are not shown in the neutral answer; they still travel back verbatim.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

import anthropic
import httpx2

from pynchy_cli.core.agent_cores import sdk_errors
from pynchy_cli.core.agent_cores.base import ModelResult, Usage
from pynchy_cli.core.agent_cores.pricing import cost_usd

PROVIDER = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
KEY_VAR = "ANTHROPIC_API_KEY"
# Sent when the account has a base_url but no key (a local proxy). Passing something
# explicit also stops the SDK from looking for credentials in the environment or in its
# own profile files: the account is the only source of credentials.
NO_KEY = "not-needed"

_STOP_REASONS = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
    "model_context_window_exceeded": "max_tokens",
    "pause_turn": "end_turn",  # only for server-side tools, which pynchy does not offer
}
_CACHE = {"type": "ephemeral"}
_CACHEABLE = ("text", "tool_use", "tool_result")  # blocks that may carry cache_control
_REPLAY_MAX = 512  # assistant turns remembered per core


class AnthropicCore:
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
        self._base_url = base_url or DEFAULT_BASE_URL
        # An explicit timeout also keeps the SDK from refusing large max_tokens without
        # streaming (it only checks when the default timeout is in use).
        self._client = anthropic.AsyncAnthropic(
            api_key=self._key,
            base_url=self._base_url,
            max_retries=max_retries,
            timeout=httpx2.Timeout(timeout, connect=10.0),
        )
        # fingerprint of an assistant turn -> its original blocks, signatures included
        self._replay: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

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
            "max_tokens": max_tokens,
            "messages": to_anthropic_messages(messages, self._replay),
        }
        if system:
            params["system"] = [{"type": "text", "text": system, "cache_control": _CACHE}]
        if tools:
            params["tools"] = [to_anthropic_tool(t) for t in tools]
        try:
            response = await self._client.messages.create(**params)
        except anthropic.APIStatusError as exc:
            error = sdk_errors.status_error(
                PROVIDER, exc.status_code, exc.body, secret=self._key, key_var=KEY_VAR
            )
            if exc.status_code in (401, 403):
                raise error from None  # the SDK's own text may quote the key
            raise error from exc
        except anthropic.APIConnectionError as exc:
            timed_out = isinstance(exc, anthropic.APITimeoutError)
            raise sdk_errors.connection_error(
                PROVIDER, self._base_url, timed_out=timed_out
            ) from exc
        except anthropic.APIError as exc:
            raise sdk_errors.other_error(PROVIDER, exc, secret=self._key) from exc
        result = from_anthropic_message(response)
        original = original_blocks(response)
        if any(b["type"] in ("thinking", "redacted_thinking") for b in original):
            key = fingerprint(result.content)
            if key is not None:
                self._replay[key] = original
                self._replay.move_to_end(key)
                while len(self._replay) > _REPLAY_MAX:
                    self._replay.popitem(last=False)
        return result

    async def aclose(self) -> None:
        await self._client.close()


def to_anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    spec = {"name": tool["name"], "input_schema": tool.get("input_schema") or {"type": "object"}}
    if tool.get("description"):
        spec["description"] = tool["description"]
    return spec


def fingerprint(blocks: list[dict[str, Any]]) -> str | None:
    """Identify an assistant turn by its text and tool calls (what survives the trip
    through the container unchanged)."""
    visible = []
    for b in blocks:
        if b.get("type") == "text" and b.get("text"):
            visible.append(["text", b["text"]])
        elif b.get("type") == "tool_use":
            visible.append(["tool_use", b["id"], b["name"], b.get("input") or {}])
    if not visible:
        return None
    data = json.dumps(visible, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def to_anthropic_messages(
    messages: list[dict[str, Any]], replay: dict[str, list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        blocks = None
        if message["role"] == "assistant" and replay:
            key = fingerprint(content)
            if key is not None and key in replay:
                blocks = [dict(b) for b in replay[key]]  # as the API issued them
        if blocks is None:
            blocks = [b for b in (_to_anthropic_block(b) for b in content) if b is not None]
        if blocks:  # a turn left empty (only thinking) is dropped; the API merges neighbours
            out.append({"role": message["role"], "content": blocks})
    if out and out[-1]["content"][-1]["type"] in _CACHEABLE:
        # Cache the conversation so far: the next turn of an agent loop reads it back at a
        # tenth of the price. Prompts under the model's minimum are simply not cached.
        out[-1]["content"][-1] = {**out[-1]["content"][-1], "cache_control": _CACHE}
    return out


def _to_anthropic_block(block: dict[str, Any]) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        # The API rejects empty text blocks.
        return {"type": "text", "text": block["text"]} if block["text"] else None
    if kind == "tool_use":
        return {
            "type": "tool_use",
            "id": block["id"],
            "name": block["name"],
            "input": block.get("input") or {},
        }
    if kind == "tool_result":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": block["tool_use_id"],
            "content": block.get("content") or "",
        }
        if block.get("is_error"):
            result["is_error"] = True
        return result
    return None  # thinking without its signature (see the module docstring), unknown types


def from_anthropic_message(response: Any) -> ModelResult:
    content: list[dict[str, Any]] = []
    for block in response.content:
        if block.type == "text":
            content.append({"type": "text", "text": block.text})
        elif block.type == "thinking":
            if block.thinking:  # empty when the display is "omitted"
                content.append({"type": "thinking", "thinking": block.thinking})
        elif block.type == "tool_use":
            tool_input = block.input if isinstance(block.input, dict) else {"_raw": block.input}
            content.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "input": tool_input}
            )
        # redacted_thinking and server-side tool blocks have no neutral form: skipped.
    u = response.usage
    usage = Usage(
        input_tokens=u.input_tokens or 0,
        output_tokens=u.output_tokens or 0,
        cache_read_tokens=u.cache_read_input_tokens or 0,
        cache_creation_tokens=u.cache_creation_input_tokens or 0,
    )
    model = response.model or ""
    return ModelResult(
        content=content,
        stop_reason=_STOP_REASONS.get(response.stop_reason or "end_turn", "end_turn"),
        usage=usage,
        model=model,
        cost_usd=cost_usd(model, usage),  # None when the price is unknown
    )


def original_blocks(response: Any) -> list[dict[str, Any]]:
    """The response's blocks as request blocks, thinking signatures kept verbatim."""
    out: list[dict[str, Any]] = []
    for block in response.content:
        if block.type == "thinking":
            out.append(
                {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
            )
        elif block.type == "redacted_thinking":
            out.append({"type": "redacted_thinking", "data": block.data})
        elif block.type == "text" and block.text:
            out.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            out.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
            )
    return out
