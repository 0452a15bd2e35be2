"""What a model turn costs, in USD, from its token usage.

Prices are standard-tier list prices per million tokens (no batch, priority or long-context
surcharges); they change, so treat the result as an estimate. A model is matched by the
longest family name it starts with, followed only by a date or alias suffix
(`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`, `claude-3-5-haiku-latest`), so a newer
version such as `claude-sonnet-5-7` is *unknown* (None) rather than priced as an older one.

Usage follows the neutral convention of `base.Usage`: `input_tokens` are uncached input;
cache reads and cache writes are counted apart and priced apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pynchy_cli.core.agent_cores.base import Usage


@dataclass(frozen=True)
class Price:
    input: float  # USD per million uncached input tokens
    output: float  # USD per million output tokens
    cache_read: float  # USD per million input tokens read from the cache
    cache_write: float  # USD per million input tokens written to the cache


def _anthropic(input_: float, output: float, cache_read: float | None = None) -> Price:
    # Anthropic: cache reads cost 0.1x input unless listed, 5-minute cache writes 1.25x input.
    read = round(input_ * 0.1, 6) if cache_read is None else cache_read
    return Price(input_, output, read, round(input_ * 1.25, 6))


def _openai(input_: float, output: float, cached: float) -> Price:
    # OpenAI caches automatically: cached input is discounted, writing costs nothing extra.
    return Price(input_, output, cached, input_)


# Checked 2026-11 against the providers' model and pricing pages (Anthropic: Fable 5.1
# and Opus 5.5 read the cache at less than 0.1x input). Left out on purpose (so they show
# as unknown rather than a guess): models priced in tiers ("from $x", Haiku 5.5), models of
# limited availability (Mythos) and models whose price was not published where we looked.
# Prices a user sets in config ([prices."PROVIDER:MODEL"]) come first: price_for(table=).
PRICES: dict[str, Price] = {
    # Anthropic, current
    "claude-fable-5-1": _anthropic(10.0, 50.0, cache_read=0.25),
    "claude-opus-5-5": _anthropic(4.0, 20.0, cache_read=0.2),
    "claude-sonnet-5-5": _anthropic(2.0, 10.0, cache_read=0.1),
    # Anthropic, legacy
    "claude-fable-5": _anthropic(10.0, 50.0),
    "claude-opus-5": _anthropic(5.0, 25.0),
    "claude-sonnet-5": _anthropic(2.0, 10.0),
    "claude-opus-4-8": _anthropic(5.0, 25.0),
    "claude-opus-4-7": _anthropic(5.0, 25.0),
    "claude-opus-4-6": _anthropic(5.0, 25.0),
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-1": _anthropic(15.0, 75.0),
    "claude-opus-4-0": _anthropic(15.0, 75.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-3-opus": _anthropic(15.0, 75.0),
    "claude-sonnet-4-6": _anthropic(3.0, 15.0),
    "claude-sonnet-4-5": _anthropic(3.0, 15.0),
    "claude-sonnet-4-0": _anthropic(3.0, 15.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "claude-3-5-sonnet": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-5-haiku": _anthropic(0.8, 4.0),
    "claude-3-haiku": _anthropic(0.25, 1.25),
    # OpenAI
    "gpt-5.5": _openai(5.0, 30.0, 0.5),
    "gpt-5.4": _openai(2.5, 15.0, 0.25),
    "gpt-5.4-mini": _openai(0.75, 4.5, 0.075),
    "gpt-5.4-nano": _openai(0.2, 1.25, 0.02),
    "gpt-5": _openai(1.25, 10.0, 0.125),
    "gpt-5-mini": _openai(0.25, 2.0, 0.025),
    "gpt-5-nano": _openai(0.05, 0.4, 0.005),
    "gpt-4.1": _openai(2.0, 8.0, 0.5),
    "gpt-4.1-mini": _openai(0.4, 1.6, 0.1),
    "gpt-4.1-nano": _openai(0.1, 0.4, 0.025),
    "gpt-4o": _openai(2.5, 10.0, 1.25),
    "gpt-4o-mini": _openai(0.15, 0.6, 0.075),
    "o3": _openai(2.0, 8.0, 0.5),
    "o4-mini": _openai(1.1, 4.4, 0.275),
}

# What may follow a family name: a date (20250929, 2024-08-06), an alias, a cloud version tag.
_SUFFIX = re.compile(r"^(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|latest)|-v\d+(?::\d+)?)*$")
_BY_LENGTH = sorted(PRICES, key=len, reverse=True)


def price_for(model: str, table: Mapping[str, Price] | None = None) -> Price | None:
    """The price of a model, or None when the model is unknown. `table`: another table
    (lower-case names) to look in instead of PRICES."""
    name = model.strip().lower()
    # Provider-qualified names (bedrock `anthropic.claude-...`, routers `openai/gpt-4o`).
    name = name.rsplit("/", 1)[-1]
    if name.startswith("anthropic."):
        name = name.removeprefix("anthropic.")
    families = _BY_LENGTH if table is None else sorted(table, key=len, reverse=True)
    for family in families:
        if name.startswith(family) and _SUFFIX.match(name[len(family) :]):
            return (PRICES if table is None else table)[family]
    return None


def configured_prices(prices: Mapping[str, Any], provider: str) -> dict[str, Price]:
    """A provider's prices from config ([prices."PROVIDER:MODEL"], PriceSettings), as a
    table for price_for. Cache reads and writes cost the input price unless given."""
    table = {}
    for key, p in prices.items():
        owner, _, model = key.partition(":")
        if owner.lower() == provider:
            read = p.cache_read_per_mtok
            write = p.cache_write_per_mtok
            table[model.strip().lower()] = Price(
                p.input_per_mtok,
                p.output_per_mtok,
                p.input_per_mtok if read is None else read,
                p.input_per_mtok if write is None else write,
            )
    return table


def cost_usd(model: str, usage: Usage, table: Mapping[str, Price] | None = None) -> float | None:
    """The cost of one turn in USD; None when the model's price is unknown."""
    price = price_for(model, table)
    if price is None:
        return None
    total = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_creation_tokens * price.cache_write
    )
    return total / 1_000_000
