"""Markdown to Telegram HTML: what Telegram's parser accepts, within its length limit."""

from __future__ import annotations

import pytest
from fake_telegram import parse_html, utf16_len
from pynchy_telegram.format import LIMIT, render, render_host, to_html


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**bold** and *it* and _it_", "<b>bold</b> and <i>it</i> and <i>it</i>"),
        ("`a<b> & c`", "<code>a&lt;b&gt; &amp; c</code>"),
        ("x < y && y > z", "x &lt; y &amp;&amp; y &gt; z"),
        ("[docs](https://x.io/?a=1&b=2)", '<a href="https://x.io/?a=1&amp;b=2">docs</a>'),
        ("# Title", "<b>Title</b>"),
        ("- one\n* two", "• one\n• two"),
        ("> quoted <x>\n> more", "<blockquote>quoted &lt;x&gt;\nmore</blockquote>"),
        ("~~gone~~", "<s>gone</s>"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("**unbalanced", "**unbalanced"),
        ("**bold `code` inside**", "<b>bold <code>code</code> inside</b>"),
        (
            "```python\nif a < b:\n    pass\n```",
            '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>',
        ),
        ("```\nno lang\n```", "<pre>no lang</pre>"),
        ("| a | b |\n|---|---|", "<pre>| a | b |\n|---|---|</pre>"),
    ],
)
def test_markdown_to_telegram_html(markdown: str, expected: str) -> None:
    assert to_html(markdown) == expected
    parse_html(expected)  # and Telegram's parser (the local server's) accepts it


NASTY = [
    "<script>alert(1)</script> & &amp; &#x;",
    "**a *b* `c` [d](https://e.f)** ~~g~~ _h_",
    "```\nunterminated fence <x>",
    "> quote with **bold** and `code`",
    "*star at end*and_more_ __dunder__ ***three***",
    "[link with ](bad url) and [ok](https://ok.io/a_(b))",
    "emoji 😀 and **bold 😀**",
]


@pytest.mark.parametrize("markdown", NASTY)
def test_whatever_the_agent_writes_parses(markdown: str) -> None:
    for chunk in render(markdown):
        plain = parse_html(chunk.html)
        assert plain.strip()
        assert utf16_len(plain) <= LIMIT


def test_long_reply_split_within_the_limit_keeping_every_word() -> None:
    words = [f"w{i}" for i in range(3000)]
    code = "\n".join(f"line {i} <tag> & more" for i in range(400))
    markdown = " ".join(words) + "\n\n```\n" + code + "\n```\n" + "😀" * 5000
    chunks = render(markdown)
    assert len(chunks) > 4
    texts = [parse_html(c.html) for c in chunks]
    assert all(
        utf16_len(t) <= LIMIT and utf16_len(c.html) <= LIMIT
        for t, c in zip(texts, chunks, strict=True)
    )
    joined = " ".join(texts)
    assert joined.split()[: len(words)] == words  # nothing lost, nothing reordered
    assert joined.count("<tag>") == 400
    assert joined.count("😀") == 5000


def test_code_block_split_stays_code() -> None:
    code = "\n".join(f"x = {i}  # <{i}>" for i in range(1000))
    chunks = render(f"```python\n{code}\n```")
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.html.startswith('<pre><code class="language-python">')
        assert chunk.html.endswith("</code></pre>")
        parse_html(chunk.html)


def test_host_notice_reads_apart() -> None:
    [chunk] = render_host("The agent could not answer: <timeout> & retry")
    assert chunk.html == "<i>pynchy: The agent could not answer: &lt;timeout&gt; &amp; retry</i>"
    assert parse_html(chunk.html).startswith("pynchy: ")
    long = render_host("x " * 5000)
    assert len(long) > 1 and all(utf16_len(parse_html(c.html)) <= LIMIT for c in long)
