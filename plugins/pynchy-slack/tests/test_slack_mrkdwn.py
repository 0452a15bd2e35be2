"""Markdown out to Slack mrkdwn, Slack markup in to plain text, and splitting."""

from __future__ import annotations

import pytest
from pynchy_slack.mrkdwn import LIMIT, from_slack, host_notice, split_message, to_mrkdwn


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and *italic*", "*bold* and _italic_"),
        ("__bold__ and _italic_", "*bold* and _italic_"),
        ("~~gone~~", "~gone~"),
        ("see [the docs](https://x.io/a_b?c=1&d=2)", "see <https://x.io/a_b?c=1&d=2|the docs>"),
        ("# Title\ntext", "*Title*\ntext"),
        ("### **Deep** title ###", "*Deep title*"),
        ("- one\n* two\n  + three", "• one\n• two\n  • three"),
        ("> quoted *word*", "> quoted _word_"),
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("https://x.io/some_path_here*x*", "https://x.io/some_path_here*x*"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("![logo](https://x.io/l.png)", "<https://x.io/l.png|logo>"),
        ("<https://x.io>", "<https://x.io>"),
        ("---", "――――――――"),
    ],
)
def test_markdown_to_mrkdwn(markdown, mrkdwn):
    assert to_mrkdwn(markdown) == mrkdwn


def test_code_is_kept_but_escaped():
    text = "run `a **b** <c>` then:\n```python\nx = 1 if a < b else **kw\n```\ndone **now**"
    assert to_mrkdwn(text) == (
        "run `a **b** &lt;c&gt;` then:\n```\nx = 1 if a &lt; b else **kw\n```\ndone *now*"
    )


def test_host_notice_stands_apart():
    assert host_notice("Started a new session.") == ":gear: _pynchy:_ Started a new session."


def test_short_text_is_one_piece():
    assert split_message("hello") == ["hello"]
    assert split_message("") == []


def test_split_prefers_paragraphs_and_stays_under_the_limit():
    paragraphs = [f"paragraph {i} " + "word " * 150 for i in range(20)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    pieces = split_message(text)
    assert len(pieces) > 1
    assert all(len(p) <= LIMIT for p in pieces)
    assert all(p.startswith("paragraph ") for p in pieces)  # cut at paragraph breaks
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split())


def test_split_without_spaces_cuts_hard():
    pieces = split_message("x" * 10_000, limit=1000)
    assert all(len(p) <= 1000 for p in pieces)
    assert "".join(pieces) == "x" * 10_000


def test_split_closes_and_reopens_code_fences():
    code = "\n".join(f"line {i} = {i * i}" for i in range(600))
    text = "intro\n```\n" + code + "\n```\nafter"
    pieces = split_message(text, limit=1000)
    assert len(pieces) > 2
    assert all(len(p) <= 1000 for p in pieces)
    assert all(p.count("```") % 2 == 0 for p in pieces)
    assert pieces[1].startswith("```\n")


def test_from_slack_turns_the_bot_mention_into_the_trigger():
    names = {"U0ANN": "ann"}
    text = (
        "<@UBOT> ask <@U0ANN> and <@U0BOB|bob> in <#C1|general>"
        " about <https://x.io|this> &amp; <!here>"
    )
    assert from_slack(text, bot_user_id="UBOT", trigger="@Pynchy", names=names) == (
        "@Pynchy ask @ann and @bob in #general about this (https://x.io) & @here"
    )


def test_from_slack_plain_links_and_escapes():
    text = "<https://x.io/a> <mailto:a@b.c|a@b.c> <https://x.io|x.io> 1 &lt; 2 &gt; 0"
    assert from_slack(text, bot_user_id=None, trigger="@P", names={}) == (
        "https://x.io/a a@b.c https://x.io 1 < 2 > 0"
    )


def test_approval_replies_pass_through_untouched():
    assert from_slack("approve 12", bot_user_id="UBOT", trigger="@P", names={}) == "approve 12"
    assert from_slack("deny 3", bot_user_id="UBOT", trigger="@P", names={}) == "deny 3"
