"""Text both ways: pynchy's Markdown out to Discord's dialect, split to Discord's length limit;
Discord's mention syntax in to the group's trigger text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

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


def _pieces(line: str, width: int) -> Iterable[str]:
    """A line cut into pieces of at most width characters, at a space where there is one."""
    while len(line) > width:
        cut = line.rfind(" ", width // 2, width)
        if cut <= 0:
            cut = width
        yield line[:cut]
        line = line[cut:].lstrip(" ") if line[cut : cut + 1] == " " else line[cut:]
    yield line


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Split text into messages of at most `limit` characters, at line breaks where possible.
    A code block cut in two is closed at the end of one message and reopened (with its
    language) at the start of the next, so both render as code."""
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text.strip() else []
    reserve = 16  # room for a closing fence, and the reopening fence of the next message
    fence_room = 0
    chunks: list[str] = []
    buf = ""
    fence: str | None = None  # the opening fence line when buf ends inside a code block
    for raw in text.split("\n"):
        marker = _FENCE.match(raw)
        if fence is None and marker:
            fence_room = min(len(raw.strip()), 64)
        for index, line in enumerate(_pieces(raw, limit - reserve - fence_room)):
            after = fence
            if marker and index == 0:
                after = None if fence is not None else line.strip()[:64]
            candidate = f"{buf}\n{line}" if buf else line
            closing = "\n```" if after is not None else ""
            if len(candidate) + len(closing) <= limit:
                buf, fence = candidate, after
                continue
            if buf.strip():
                chunks.append(buf + ("\n```" if fence is not None else ""))
            reopen = f"{fence}\n" if fence is not None else ""
            buf, fence = reopen + line, after
    if buf.strip() and buf.strip() != (fence or "").strip():
        chunks.append(buf + ("\n```" if fence is not None else ""))
    return [c.strip("\n") for c in chunks if c.strip()]


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
