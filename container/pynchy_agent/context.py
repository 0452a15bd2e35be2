"""Keeping every model request inside the run's room (protocol.ContextRoom).

The runner owns the growing message list, so before each model call it measures the
conversation; past the room's compact_at it has the host summarise the oldest turns
(OP_COMPACT, one chunk under the socket's cap at a time) and puts the summary in their
place, never parting a tool_use from its tool_result. What still does not fit (one huge
turn) has its largest blocks trimmed, with a note. A host that cannot summarise (an older
one) gets the oldest turns left out instead, with a note to the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynchy_agent.client import HostClient, HostError
from pynchy_cli import protocol

Message = dict[str, Any]

_MAX_ROUNDS = 8  # summaries per model call at most; each one makes room or stops the loop
_MIN_BLOCK = 1_000  # characters a trimmed block keeps at least


class ConversationFitter:
    def __init__(self, host: HostClient, room: protocol.ContextRoom):
        self.host = host
        self.room = room
        self.request: Message | None = None  # the message holding the prompt being answered
        self.prompt = ""  # that prompt's text
        self._sizes: dict[int, tuple[Message, int, int]] = {}  # id -> (message, bytes, tokens)

    # --- measuring ---------------------------------------------------------------------

    def _size(self, message: Message) -> tuple[int, int]:
        cached = self._sizes.get(id(message))
        if cached is None or cached[0] is not message:
            cached = (message, *self.room.size(message))
            self._sizes[id(message)] = cached
        return cached[1], cached[2]

    def load(self, message: Message) -> float:
        size, tokens = self._size(message)
        return max(size / self.room.limit_bytes, tokens / self.room.limit_tokens)

    def _bytes(self, message: Message) -> float:
        return self._size(message)[0]

    # --- fitting -----------------------------------------------------------------------

    def fit(self, messages: list[Message]) -> list[Message]:
        """The conversation to send: as it is while it fits, else with its oldest turns
        summarised and, as a last resort, its largest blocks trimmed."""
        room = self.room
        loads = [self.load(m) for m in messages]
        total = sum(loads)
        for _ in range(_MAX_ROUNDS):
            if total <= room.compact_at:
                break
            cut = self._chunk_cut(messages, room.cut(messages, loads, room.keep, whole=False))
            if not any(m["role"] == "assistant" for m in messages[:cut]):
                break  # nothing but an earlier summary to summarise
            shorter = self._compact(messages, cut)
            shorter_loads = [self.load(m) for m in shorter]
            if sum(shorter_loads) >= total:
                break  # the summary saved nothing: trimming is all that is left
            messages, loads, total = shorter, shorter_loads, sum(shorter_loads)
        self._sizes = {id(m): self._sizes[id(m)] for m in messages if id(m) in self._sizes}
        if total > room.compact_at:
            messages = self._shrink(messages, self.load, room.compact_at)
        return messages

    def _chunk_cut(self, messages: list[Message], cut: int) -> int:
        """A cut no later than `cut` whose chunk fits one compact request (the socket's
        cap); the first possible cut when none does (that chunk is trimmed to fit)."""
        first, before = 0, [0.0]
        for message in messages[:cut]:
            before.append(before[-1] + self._bytes(message))
        for i in range(cut, 0, -1):
            if protocol.has_tool_result(messages[i]):
                continue
            first = i
            if before[i] <= self._chunk_bytes():
                return i
        return first

    def _chunk_bytes(self) -> float:
        return self.room.limit_bytes * self.room.compact_at

    def _compact(self, messages: list[Message], cut: int) -> list[Message]:
        chunk, rest = messages[:cut], messages[cut:]
        turns = protocol.model_turns(chunk)
        holds_request = any(m is self.request for m in chunk)
        summary = self._summarise(self._shrink(chunk, self._bytes, self._chunk_bytes(), live=False))
        if holds_request and self.prompt:
            asked = protocol.trim_text(self.prompt, self.room.chars(self.room.keep / 4), "prompt")
            summary += f"\n\n[the request being worked on]\n{asked}"
        shorter = protocol.with_summary(summary, turns, rest)
        if all(m is not self.request for m in shorter[1:]):
            self.request = shorter[0]  # the request went into (or joined) the summary
        return shorter

    def _summarise(self, chunk: list[Message]) -> str:
        reason = "the host does not summarise"
        if self.room.compact:
            try:
                return str(self.host.call(protocol.OP_COMPACT, {"messages": chunk})["summary"])
            except (HostError, KeyError) as exc:
                reason = f"the host could not summarise them: {exc}"
        return f"({len(chunk)} earlier messages were left out to make room; {reason})"

    def _shrink(
        self,
        messages: list[Message],
        measure: Callable[[Message], float],
        limit: float,
        live: bool = True,
    ) -> list[Message]:
        """Trim the largest blocks (halving one at a time) until the messages measure at
        most `limit` in all, or nothing large is left. The originals stay unchanged; `live`:
        these are the conversation's messages (not a copy sent to be summarised)."""
        messages = list(messages)
        for _ in range(64):
            if sum(measure(m) for m in messages) <= limit:
                break
            found = _largest_block(messages)
            if found is None:
                break
            index, block_index, length = found
            message = messages[index]
            blocks = protocol.blocks_of(message)
            blocks[block_index] = _trimmed_block(blocks[block_index], max(length // 2, _MIN_BLOCK))
            messages[index] = {**message, "content": blocks}
            if live and message is self.request:
                self.request = messages[index]
        return messages


def _block_text_length(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return len(block.get("text", ""))
    if kind == "tool_result":
        return len(block.get("content", "")) if isinstance(block.get("content"), str) else 0
    if kind == "thinking":
        return len(block.get("thinking", ""))
    if kind == "tool_use":
        values = [v for v in (block.get("input") or {}).values() if isinstance(v, str)]
        return max((len(v) for v in values), default=0)
    return 0


def _largest_block(messages: list[Message]) -> tuple[int, int, int] | None:
    """(message index, block index, length) of the longest text, or None when every
    block is already short."""
    best: tuple[int, int, int] | None = None
    for i, message in enumerate(messages):
        for j, block in enumerate(protocol.blocks_of(message)):
            length = _block_text_length(block)
            if length > 2 * _MIN_BLOCK and (best is None or length > best[2]):
                best = (i, j, length)
    return best


def _trimmed_block(block: dict[str, Any], limit: int) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {**block, "text": protocol.trim_text(block["text"], limit, "message")}
    if kind == "tool_result":
        return {**block, "content": protocol.trim_text(block["content"], limit)}
    if kind == "thinking":
        return {**block, "thinking": protocol.trim_text(block["thinking"], limit, "thinking")}
    arguments = dict(block.get("input") or {})
    for key, value in arguments.items():
        if isinstance(value, str) and len(value) > limit:
            arguments[key] = protocol.trim_text(value, limit, "argument")
    return {**block, "input": arguments}
