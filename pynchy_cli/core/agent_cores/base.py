"""The agent core interface: the host-side half of an agent, which answers its model calls.

Containers send provider-neutral model requests (see pynchy_cli.protocol); an AgentCore
turns one into a call to its provider, with the account's real credentials, and answers
in the same neutral format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# The host's summarising calls (compaction of old turns) start their system prompt with
# this marker, so that offline cores can answer them without spending a scripted turn.
SUMMARISE_MARKER = "[pynchy:summarise]"


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    @property
    def all_input_tokens(self) -> int:
        """Every input token the provider processed, cached or not: what the ledger counts."""
        return self.input_tokens + self.cache_read_tokens + self.cache_creation_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_creation_tokens": self.cache_creation_tokens,
        }


@dataclass
class ModelResult:
    content: list[dict[str, Any]]  # neutral blocks: text, thinking, tool_use
    stop_reason: str  # one of protocol.STOP_REASONS
    usage: Usage = field(default_factory=Usage)
    model: str = ""  # the model that answered, as the provider named it
    cost_usd: float | None = 0.0  # None: the model's price is unknown (not free)


class AgentCore(Protocol):
    provider: str
    model: str

    async def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResult:
        """One model turn. Raise UnavailableError (with a hint) when the provider fails."""

    async def aclose(self) -> None:
        """Release clients."""
