"""How much a model can read at once (its context window) and how pynchy counts tokens.

No tokenizer runs here (the providers' own need downloads or network calls), so tokens are
estimated from characters with a rate per provider family chosen to overestimate: ASCII
text is counted at fewer characters per token than prose needs (code, JSON and the newer
Claude tokenizers come close to 3), and every other character (accents, CJK, emoji) as up
to two tokens. A request estimated to fit therefore fits.

A model's window is matched by the longest family name its name starts with; models
pynchy does not know get `context.default_window` from the settings. Windows are the
standard ones (no beta long-context headers).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenCounting:
    ascii_chars_per_token: float
    other_char_tokens: float


COUNTING: dict[str, TokenCounting] = {
    "anthropic": TokenCounting(2.5, 2.0),
    "openai": TokenCounting(3.0, 1.5),  # o200k and cl100k: about 4 characters of prose
}
DEFAULT_COUNTING = TokenCounting(2.5, 2.0)  # other providers, local models, offline cores

# Tokens, checked 2026-11 against the providers' model pages.
WINDOWS: dict[str, int] = {
    "claude-": 200_000,
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
}
OFFLINE_WINDOW = 200_000  # echo and scripted: as a typical hosted model
_BY_LENGTH = sorted(WINDOWS, key=len, reverse=True)


def counting_for(provider: str) -> TokenCounting:
    return COUNTING.get(provider, DEFAULT_COUNTING)


def known_window(model: str) -> int | None:
    """The context window of a model pynchy knows, else None."""
    name = model.strip().lower().rsplit("/", 1)[-1].removeprefix("anthropic.")
    for family in _BY_LENGTH:
        if name.startswith(family):
            return WINDOWS[family]
    return None
