"""Summaries of a conversation's oldest turns, written by the run's own model.

The turns are shown to the model as a plain transcript (any provider takes it, whatever
tool calls it holds) under a system prompt that starts with SUMMARISE_MARKER, so offline
cores answer without spending a scripted turn. A transcript larger than the model can read
at once is cut into pieces that fit: each piece is summarised, then the summaries together
(in pieces again while they do not fit). Every call goes through the run's core (budgets
included) and is reported to `record`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent_cores.base import SUMMARISE_MARKER, AgentCore, ModelResult

SYSTEM = (
    f"{SUMMARISE_MARKER} You keep the memory of a long conversation between a person and "
    "their assistant, an AI agent that uses tools. Its oldest turns are about to be removed "
    "to make room; your summary is all the assistant will have of them."
)
ASK = (
    "Summarise the conversation above for the assistant that carries it on. Keep what the "
    "person asked for and still wants, their preferences and decisions, facts learned, "
    "names, numbers, file paths, commands run and what came of them, what is done and what "
    "is left. Leave out pleasantries and tool output that no longer matters. Write compact "
    "notes in the conversation's language; no preamble."
)
ASK_MERGE = (
    "The text above is the summaries of consecutive parts of one conversation, oldest "
    "first. Merge them into one summary, as compact notes, keeping every request, "
    "preference, decision, fact, name, path and open task they hold."
)
_MAX_DEPTH = 4  # levels of summaries of summaries; each level has far fewer pieces


def transcript(messages: list[dict[str, Any]]) -> list[str]:
    """The conversation as plain-text pieces, one per block (thinking left out)."""
    names: dict[str, str] = {}
    pieces: list[str] = []
    for message in messages:
        speaker = "person" if message.get("role") == "user" else "assistant"
        for block in protocol.blocks_of(message):
            kind = block.get("type")
            if kind == "text" and block.get("text", "").strip():
                pieces.append(f"[{speaker}]\n{block['text']}")
            elif kind == "tool_use":
                names[block.get("id", "")] = block.get("name", "?")
                arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
                pieces.append(f"[assistant calls {block.get('name', '?')}]\n{arguments}")
            elif kind == "tool_result":
                name = names.get(block.get("tool_use_id", ""), "a tool")
                failed = " (failed)" if block.get("is_error") else ""
                pieces.append(f"[result of {name}{failed}]\n{block.get('content', '')}")
    return pieces


class Summariser:
    def __init__(
        self,
        core: AgentCore,
        room: protocol.ContextRoom,
        record: Callable[[ModelResult], None],
    ):
        self.core = core
        self.room = room
        self.record = record
        self.calls = 0
        # What one call may read (its own prompt is small and has no tools) and write.
        self.read_tokens = int(room.limit_tokens * room.compact_at)
        self.write_tokens = min(4096, max(512, room.limit_tokens // 10))

    async def summarise(self, messages: list[dict[str, Any]]) -> str:
        return await self._reduce(transcript(messages) or ["(nothing was said)"], ASK, 0)

    async def _reduce(self, pieces: list[str], ask: str, depth: int) -> str:
        chunks = self._chunks(pieces)
        summaries = [await self._call(chunk, ask) for chunk in chunks]
        if len(summaries) == 1:
            return summaries[0]
        parts = [f"[part {n} of {len(summaries)}]\n{s}" for n, s in enumerate(summaries, 1)]
        if depth >= _MAX_DEPTH:
            return protocol.trim_text("\n\n".join(parts), self._chars(self.write_tokens * 4))
        return await self._reduce(parts, ASK_MERGE, depth + 1)

    def _chars(self, tokens: int) -> int:
        return max(int(tokens * self.room.ascii_chars_per_token), 1_000)

    def _fitted(self, piece: str, tokens: int) -> str:
        """The piece, trimmed (head and tail) until it is estimated at most `tokens`."""
        chars = self._chars(tokens)
        while self.room.tokens(piece) > tokens and len(piece) > 1_000:
            piece = protocol.trim_text(piece, min(chars, len(piece) // 2))
        return piece

    def _chunks(self, pieces: list[str]) -> list[str]:
        """Pieces joined into texts that one call can read."""
        chunks: list[str] = []
        current: list[str] = []
        used = 0
        for piece in pieces:
            piece = self._fitted(piece, self.read_tokens)
            tokens = self.room.tokens(piece) + 2
            if current and used + tokens > self.read_tokens:
                chunks.append("\n\n".join(current))
                current, used = [], 0
            current.append(piece)
            used += tokens
        if current:
            chunks.append("\n\n".join(current))
        return chunks

    async def _call(self, text: str, ask: str) -> str:
        result = await self.core.complete(
            system=SYSTEM,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": text}, {"type": "text", "text": ask}],
                }
            ],
            tools=[],
            max_tokens=self.write_tokens,
        )
        self.calls += 1
        self.record(result)
        summary = "\n".join(b["text"] for b in result.content if b.get("type") == "text")
        summary = summary.strip() or "(the model wrote no summary)"
        return protocol.trim_text(summary, self._chars(self.write_tokens * 2), "summary")
