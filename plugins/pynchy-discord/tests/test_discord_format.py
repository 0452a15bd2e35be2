"""Markdown out, mentions in, and splitting to Discord's 2000 characters."""

from __future__ import annotations

from pynchy_discord.format import LIMIT, inbound_text, render, split_message, to_discord


def test_short_text_is_one_message_and_blank_is_none():
    assert split_message("hello") == ["hello"]
    assert split_message("  \n ") == []


def test_split_keeps_lines_and_limit():
    text = "\n".join(f"line {i} " + "x" * (i * 7 % 300) for i in range(200))
    parts = split_message(text)
    assert len(parts) > 1
    assert all(len(p) <= LIMIT for p in parts)
    assert "\n".join(parts) == text


def test_split_cuts_long_lines_at_spaces():
    words = " ".join(f"w{i}" for i in range(1500))
    parts = split_message(words)
    assert all(len(p) <= LIMIT for p in parts)
    assert " ".join(parts).split() == words.split()
    solid = "z" * 4500
    parts = split_message(solid)
    assert all(len(p) <= LIMIT for p in parts) and "".join(parts) == solid


def test_split_closes_and_reopens_code_blocks():
    code = "\n".join(f"print({i})  # " + "y" * 40 for i in range(120))
    text = f"Here:\n```python\n{code}\n```\nDone."
    parts = split_message(text)
    assert len(parts) >= 3
    assert all(len(p) <= LIMIT for p in parts)
    for part in parts:
        assert part.count("```") % 2 == 0, part[:40]  # every message renders balanced
    assert all(p.startswith("```python") for p in parts[1:])
    body = "\n".join(parts)
    assert all(f"print({i})" in body for i in range(120))
    assert parts[-1].endswith("Done.")


def test_markdown_conversion():
    text = "#### Deep heading\n# Top\n| a | b |\n|---|---|\n| 1 | 2 |\n![cat](http://x/c.png)"
    out = to_discord(text)
    assert "**Deep heading**" in out and "# Top" in out
    assert "```\n| a | b |\n|---|---|\n| 1 | 2 |\n```" in out
    assert "[cat](http://x/c.png)" in out and "![" not in out


def test_mass_mentions_defused_outside_code_only():
    out = to_discord("hey @everyone and @here\n```\n@everyone\n```")
    assert "@\u200beveryone and @\u200bhere" in out
    assert out.endswith("```\n@everyone\n```")


def test_host_notices_look_different():
    assert render("Started a new session.", "host") == "> *pynchy:* Started a new session."
    assert render("two\nlines", "host") == "> *pynchy:* two\n> lines"
    assert render("plain **answer**", "assistant") == "plain **answer**"


def test_bot_mention_becomes_the_trigger():
    names = {"7": "Bob"}
    assert inbound_text("<@42> hi <@7>", bot_id=42, trigger="@Pynchy", names=names) == (
        "@Pynchy hi @Bob"
    )
    assert inbound_text("<@!42>hi", bot_id=42, trigger="@Pynchy", names={}) == "@Pynchy hi"
    assert inbound_text("ok", bot_id=42, trigger="@bot", names={}, bot_mentioned=True) == (
        "@bot ok"
    )
    assert inbound_text("approve 12", bot_id=42, trigger="@Pynchy", names={}) == "approve 12"
