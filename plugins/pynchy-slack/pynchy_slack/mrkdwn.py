"""Text both ways: pynchy's Markdown out to Slack mrkdwn, Slack's markup in to plain text.

Out: **bold** -> *bold*, *italic* -> _italic_, ~~strike~~ -> ~strike~, [text](url) ->
<url|text>, # headings -> *bold lines*, list bullets -> •, code kept (language tags
dropped), and &, <, > escaped as Slack requires. Long text is split under LIMIT characters
at paragraph, line or word boundaries, closing and reopening code fences across a split.

In: <@BOT> becomes the group's trigger, <@U1|ann> -> @ann, <#C1|general> -> #general,
<url|text> -> text (url), &lt; &gt; &amp; unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pynchy_cli import split_text

LIMIT = 3900  # Slack takes 40,000 characters but recommends staying under 4,000
FENCE = "```"

_FENCED = re.compile(r"```[^\n`]*\n?(.*?)```", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BARE_URL = re.compile(r"\bhttps?://[^\s<>]+[^\s<>.,;:!?)\]'\"]")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?=\S)")
_QUOTE = re.compile(r"^(\s*>\s?)+")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HOLD = re.compile(r"\x00(\d+)\x00")
_BOLD_MARK = "\x01"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """pynchy's Markdown as Slack mrkdwn, as far as it cheaply goes."""
    out: list[str] = []
    pos = 0
    for block in _FENCED.finditer(markdown):
        out.append(_text(markdown[pos : block.start()]))
        code = escape(block.group(1).strip("\n"))
        out.append(f"{FENCE}\n{code}\n{FENCE}")
        pos = block.end()
    out.append(_text(markdown[pos:]))
    return "".join(out)


def _text(text: str) -> str:
    """Prose with inline code spans kept as they are (escaped only)."""
    out: list[str] = []
    pos = 0
    for span in _INLINE_CODE.finditer(text):
        out.append(_prose(text[pos : span.start()]))
        out.append(escape(span.group(0)))
        pos = span.end()
    out.append(_prose(text[pos:]))
    return "".join(out)


def _prose(text: str) -> str:
    held: list[str] = []

    def hold(value: str) -> str:
        held.append(value)
        return f"\x00{len(held) - 1}\x00"

    def link(url: str, label: str) -> str:
        label = escape(label.replace("|", "/"))
        return hold(f"<{url}|{label}>" if label else f"<{url}>")

    text = _IMAGE.sub(lambda m: link(m.group(2), m.group(1)), text)
    text = _LINK.sub(lambda m: link(m.group(2), m.group(1)), text)
    text = _AUTOLINK.sub(lambda m: hold(f"<{m.group(1)}>"), text)
    text = _BARE_URL.sub(lambda m: hold(m.group(0)), text)
    lines = [_line(line, hold) for line in text.split("\n")]
    text = "\n".join(lines)
    text = _BOLD.sub(lambda m: _BOLD_MARK + (m.group(1) or m.group(2)) + _BOLD_MARK, text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    text = text.replace(_BOLD_MARK, "*")
    return _HOLD.sub(lambda m: held[int(m.group(1))], text)


def _line(line: str, hold: Callable[[str], str]) -> str:
    heading = _HEADING.match(line)
    if heading:
        title = heading.group(1).replace("**", "").replace("__", "")
        return hold("*") + escape(title) + hold("*") if title else ""
    if _RULE.match(line):
        return hold("――――――――")
    prefix = ""
    quote = _QUOTE.match(line)
    if quote:
        prefix, line = "> ", line[quote.end() :]
    bullet = _BULLET.match(line)
    if bullet:
        prefix += bullet.group(1) + "• "
        line = line[bullet.end() :]
    return (hold(prefix) if prefix else "") + escape(line)


def host_notice(mrkdwn: str) -> str:
    """Host notices (kind="host") stand apart from the agent's words."""
    return f":gear: _pynchy:_ {mrkdwn}"


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at the last paragraph break, else line
    break, else space in the later half; a code block cut in two is closed and reopened."""
    return split_text(text, limit, breaks=("\n\n", "\n", " "), lowest=0.5, fences=True)


# --- incoming ------------------------------------------------------------------------------

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>")
_URL = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]*))?>")


def mentioned_users(text: str) -> set[str]:
    return {m.group(1) for m in _MENTION.finditer(text or "")}


def from_slack(text: str, *, bot_user_id: str | None, trigger: str, names: dict[str, str]) -> str:
    """Slack's markup as the plain text pynchy stores; a mention of the bot becomes the
    group's trigger so the router sees the message addressed."""

    def mention(m: re.Match) -> str:
        if bot_user_id and m.group(1) == bot_user_id:
            return trigger
        return "@" + (m.group(2) or names.get(m.group(1)) or m.group(1))

    def special(m: re.Match) -> str:
        if m.group(2):
            return m.group(2)
        return "@" + m.group(1) if m.group(1) in ("here", "channel", "everyone") else ""

    def url(m: re.Match) -> str:
        target, label = m.group(1), m.group(2)
        if not label or label == target or target.endswith(":" + label):
            return target.removeprefix("mailto:")
        if target.split("://", 1)[-1].rstrip("/") == label.rstrip("/"):
            return target
        return f"{label} ({target})"

    text = _MENTION.sub(mention, text or "")
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(special, text)
    text = _URL.sub(url, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
