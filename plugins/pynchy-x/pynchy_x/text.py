"""Post text as X counts it, and text from X made safe to show an agent.

X weighs a post's characters (twitter-text's configuration, version 3): code points in a
few ranges (Latin and most European scripts, general punctuation) count 1, everything else
(CJK, most symbols) 2, an emoji sequence 2 however many code points it joins, and a URL 23
(the length of its t.co link), all after NFC normalisation. This count is close, not exact
(twitter-text also finds URLs without a scheme): X has the last word, and its refusal is
passed on to the agent.
"""

from __future__ import annotations

import re
import unicodedata

URL_LENGTH = 23
_ONE = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_ZWJ = 0x200D
_REGIONAL = (0x1F1E6, 0x1F1FF)  # two of them make a flag
# code points that belong to the emoji before them and weigh nothing on their own
_MODIFIERS = ((0xFE00, 0xFE0F), (0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F), (0x20E3, 0x20E3))
_EMOJI = ((0x1F000, 0x1FAFF), (0x2300, 0x23FF), (0x2600, 0x27BF), (0x2B00, 0x2BFF))
# control characters (C0 but tab and newline, DEL, C1) and bidi overrides, which could
# hide or reorder what an agent is shown
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _within(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= cp <= high for low, high in ranges)


def _weigh(text: str) -> int:
    total = 0
    after_emoji = joined = open_flag = False
    for ch in text:
        cp = ord(ch)
        if after_emoji and cp == _ZWJ:
            joined = True
            continue
        if _within(cp, _MODIFIERS):
            continue
        if _within(cp, _EMOJI):
            regional = _REGIONAL[0] <= cp <= _REGIONAL[1]
            if joined or (regional and open_flag):
                joined = open_flag = False  # the rest of a sequence already counted
            else:
                total += 2
                open_flag = regional
            after_emoji = True
            continue
        after_emoji = joined = open_flag = False
        total += 1 if _within(cp, _ONE) else 2
    return total


def weighted_length(text: str) -> int:
    """How many characters X counts in this post text."""
    text = unicodedata.normalize("NFC", text)
    total, position = 0, 0
    for url in _URL.finditer(text):
        total += _weigh(text[position : url.start()]) + URL_LENGTH
        position = url.end()
    return total + _weigh(text[position:])


def clean(text: str, limit: int) -> str:
    """Text written by someone else, as an agent may see it: no control characters,
    at most `limit` characters."""
    text = _UNSAFE.sub("", text)
    if len(text) > limit:
        text = text[:limit] + f" ... [{len(text) - limit} characters cut]"
    return text
