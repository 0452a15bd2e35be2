"""Post length as X counts it (twitter-text's weights), and text from X made safe to show."""

from __future__ import annotations

import pytest
from pynchy_x.text import clean, weighted_length


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("a" * 280, 280),
        ("Grüße, déjà vu — “quoted”", 25),  # Latin-1, general punctuation: 1 each
        ("…", 2),  # U+2026 lies outside twitter-text's punctuation ranges
        ("cafe\u0301", 4),  # NFC: e + combining accent is one é
        ("日本語", 6),  # CJK: 2 each
        ("👾", 2),
        ("🙋🏽", 2),  # skin tone modifier
        ("👨‍👩‍👧‍👦", 2),  # a ZWJ family is one emoji
        ("🇫🇷🇩🇪", 4),  # two flags, two regional indicators each
        ("❤️", 2),  # with its variation selector
        ("see https://example.com/a/very/long/path?with=query", 4 + 23),
        ("www.example.com and http://x.co", 23 + 5 + 23),
    ],
)
def test_weighted_length(text, length):
    assert weighted_length(text) == length


def test_clean_drops_control_and_bidi_characters_and_bounds_the_text():
    assert clean("a\x1b[2Jb\u202ec\td\ne\x00", 100) == "a[2Jbc\td\ne"
    assert clean("x" * 30, 10) == "x" * 10 + " ... [20 characters cut]"
