"""Text both ways: pynchy's Markdown out to Discord's dialect, split to Discord's length limit;
Discord's mention syntax in to the group's trigger text."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pynchy_cli import split_text

LIMIT = 2000  # characters per Discord message

_FENCE = re.compile(r"^\s*(```|~~~)")
_MASS_MENTION = re.compile(r"@(everyone|here)\b")
_DEEP_HEADING = re.compile(r"^\s{0,3}#{4,6}\s+(.*?)\s*#*\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_USER_MENTION = re.compile(r"<@!?(\d+)>")


def escape_mass_mentions(text: str) -> str:
    """@everyone and @here stay readable but no longer ping (a zero-width space follows @)."""
    return _MASS_MENTION.sub("@\u200b\\1", text)


def to_discord(text: str) -> str:
    """Discord's Markdown is mostly CommonMark; convert what it lacks, outside code blocks:
    headings past ### become bold, images become links, tables go into a code block (Discord
    draws no tables, monospace keeps the columns), and mass mentions are defused."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if marker and marker.group(1) == fence:
                fence = None
            i += 1
            continue
        if marker:
            fence = marker.group(1)
            out.append(line)
            i += 1
            continue
        if _TABLE_ROW.match(line) and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            end = i + 2
            while end < len(lines) and _TABLE_ROW.match(lines[end]):
                end += 1
            out.extend(["```", *lines[i:end], "```"])
            i = end
            continue
        heading = _DEEP_HEADING.match(line)
        if heading:
            line = f"**{heading.group(1)}**"
        line = _IMAGE.sub(lambda m: f"[{m.group(1) or m.group(2)}]({m.group(2)})", line)
        out.append(escape_mass_mentions(line))
        i += 1
    return "\n".join(out)


def render(text: str, kind: str) -> str:
    """The text of one reply as Discord should show it. Host notices (kind "host") are set
    apart as a quote that starts with an italic "pynchy:"."""
    body = to_discord(text.strip())
    if kind != "host":
        return body
    lines = body.split("\n")
    quoted = [f"> *pynchy:* {lines[0]}"] + [f"> {line}" if line else ">" for line in lines[1:]]
    return "\n".join(quoted)


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Split text into messages of at most `limit` characters, at line breaks where possible
    (else at a space). A code block cut in two is closed at the end of one message and
    reopened (with its language) at the start of the next, so both render as code."""
    return split_text(text, limit, breaks=("\n", " "), lowest=0.0, fences=True)


def inbound_text(
    content: str,
    *,
    bot_id: int | None,
    trigger: str,
    names: Mapping[str, str],
    bot_mentioned: bool = False,
) -> str:
    """A Discord message as pynchy's router should read it: a mention of the bot becomes the
    group's trigger text (so a non-admin group answers), other user mentions become @name.
    A message that mentions the bot without the <@id> text (a reply that pings) gets the
    trigger in front."""
    text = content
    had_token = False
    if bot_id is not None:
        token = re.compile(rf"<@!?{bot_id}>")
        had_token = bool(token.search(text))
        text = re.sub(rf"<@!?{bot_id}>(?=\w)", trigger + " ", text)
        text = token.sub(trigger, text)
    text = _USER_MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    if bot_mentioned and not had_token:
        text = f"{trigger} {text}"
    return text.strip()
