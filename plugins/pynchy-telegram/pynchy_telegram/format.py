"""pynchy's Markdown to Telegram's HTML parse mode, in chunks within the message limit.

Telegram's HTML mode knows <b>, <i>, <s>, <u>, <code>, <pre>, <a href>, <blockquote>; every
other `<`, `>` and `&` must be an entity. The conversion is deliberately small: fenced code,
inline code, bold, italic, strike-through, links, headings, quotes and bullets. Whatever it
does not recognise is sent as escaped text, so a message never fails to parse.

The limit is 4096 characters of text after entity parsing, counted in UTF-16 code units.
Chunks are measured on their HTML, which is never shorter than the parsed text: a chunk
within the limit as HTML is within it as text too.
"""

from __future__ import annotations

import collections
import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from pynchy_cli import cut_to_fit, split_text

LIMIT = 4096
HOST_PREFIX = "pynchy: "

_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+#.-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^>\s?(.*)$")
_TABLE = re.compile(r"^\s*\|.*\|\s*$")

# Inline patterns, tried at every position; the earliest match wins, then the first listed.
_INLINE: list[tuple[str, re.Pattern[str]]] = [
    ("code", re.compile(r"`([^`\n]+)`")),
    ("link", re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+|tg://[^\s)]+|mailto:[^\s)]+)\)")),
    ("b", re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")),
    ("b", re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")),
    ("s", re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")),
    ("i", re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")),
    ("i", re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")),
]


@dataclass(frozen=True)
class Chunk:
    """One Telegram message: its HTML, and the plain text to fall back on."""

    html: str
    plain: str


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def inline(text: str) -> str:
    """One line (or less) of Markdown to HTML; tags always balanced, the rest escaped."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        best: tuple[int, int, str, re.Match[str]] | None = None
        for order, (kind, pattern) in enumerate(_INLINE):
            match = pattern.search(text, pos)
            if match and (best is None or (match.start(), order) < (best[0], best[1])):
                best = (match.start(), order, kind, match)
        if best is None:
            break
        start, _, kind, match = best
        out.append(escape(text[pos:start]))
        if kind == "code":
            out.append(f"<code>{escape(match.group(1))}</code>")
        elif kind == "link":
            href = html.escape(match.group(2), quote=True)
            out.append(f'<a href="{href}">{inline(match.group(1))}</a>')
        else:
            out.append(f"<{kind}>{inline(match.group(1))}</{kind}>")
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


@dataclass
class _Block:
    kind: str  # text | code | quote
    lines: list[str]
    lang: str = ""

    def render(self, lines: list[str] | None = None) -> str:
        lines = self.lines if lines is None else lines
        if self.kind == "code":
            body = escape("\n".join(lines))
            if self.lang:
                return f'<pre><code class="language-{self.lang}">{body}</code></pre>'
            return f"<pre>{body}</pre>"
        if self.kind == "quote":
            return "<blockquote>" + "\n".join(inline(line) for line in lines) + "</blockquote>"
        return "\n".join(_text_line(line) for line in lines)

    def source(self, lines: list[str] | None = None) -> str:
        lines = self.lines if lines is None else lines
        if self.kind == "code":
            return "\n".join(lines)
        if self.kind == "quote":
            return "\n".join(f"> {line}" for line in lines)
        return "\n".join(lines)


def _text_line(line: str) -> str:
    heading = _HEADING.match(line)
    if heading:
        return f"<b>{inline(heading.group(2))}</b>"
    bullet = _BULLET.match(line)
    if bullet:
        return f"{bullet.group(1)}• {inline(bullet.group(2))}"
    return inline(line)


def _blocks(markdown: str) -> list[_Block]:
    """Fenced code (and Markdown tables, shown as fixed width), quotes, and text lines."""
    blocks: list[_Block] = []
    lines = markdown.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            marker, lang = fence.group(1), fence.group(2)
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != marker:
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end of an unterminated block)
            blocks.append(_Block("code", body, lang if re.fullmatch(r"[\w+#-]+", lang) else ""))
            continue
        if _TABLE.match(line):
            table = []
            while i < len(lines) and _TABLE.match(lines[i]):
                table.append(lines[i])
                i += 1
            blocks.append(_Block("code", table))
            continue
        quote = _QUOTE.match(line)
        if quote:
            quoted = []
            while i < len(lines) and (q := _QUOTE.match(lines[i])):
                quoted.append(q.group(1))
                i += 1
            blocks.append(_Block("quote", quoted))
            continue
        blocks.append(_Block("text", [line]))
        i += 1
    return blocks


def to_html(markdown: str) -> str:
    return "\n".join(block.render() for block in _blocks(markdown))


def _rendered(render: Callable[[str], str]) -> Callable[[str], int]:
    """The size Telegram counts of a piece of Markdown once rendered."""
    return lambda piece: utf16_len(render(piece))


def _split_block(block: _Block, budget: int) -> tuple[_Block | None, _Block | None]:
    """As much of the block as fits `budget` (or None), and the rest (or None)."""
    if block.kind == "text":  # cut at a space, measured as rendered
        head, tail = cut_to_fit(
            block.lines[0], budget, breaks=(" ",), measure=_rendered(_text_line)
        )
        tail = tail.lstrip(" ")
        return _Block("text", [head]), (_Block("text", [tail]) if tail else None)
    taken: list[str] = []
    for line in block.lines:
        if utf16_len(block.render([*taken, line])) > budget:
            break
        taken.append(line)
    rest = block.lines[len(taken) :]
    if not taken:  # the first line alone is too long: cut it
        first = rest[0]
        size = len(first)
        while size > 0 and utf16_len(block.render([first[:size]])) > budget:
            size = size * 3 // 4 if size > 1 else 0
        if size == 0:
            return None, block
        taken, rest = [first[:size]], [first[size:], *rest[1:]]
    head = _Block(block.kind, taken, block.lang)
    return head, (_Block(block.kind, rest, block.lang) if rest else None)


def render(markdown: str, limit: int = LIMIT) -> list[Chunk]:
    """Markdown to Telegram HTML chunks, each within `limit` (UTF-16 units of its HTML).
    Blocks are packed into as few messages as fit; one too long for what is left of a
    message is split there (text at a space, code and quotes at a line)."""
    chunks: list[Chunk] = []
    html_parts: list[str] = []
    plain_parts: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal html_parts, plain_parts, size
        if html_parts:
            chunk = Chunk("\n".join(html_parts).strip("\n"), "\n".join(plain_parts).strip("\n"))
            if chunk.plain.strip():
                chunks.append(chunk)
        html_parts, plain_parts, size = [], [], 0

    queue = collections.deque(_blocks(markdown.strip("\n")))
    while queue:
        block = queue.popleft()
        room = limit - size - (1 if html_parts else 0)
        rendered = block.render()
        if utf16_len(rendered) <= room:
            html_parts.append(rendered)
            plain_parts.append(block.source())
            size += utf16_len(rendered) + (1 if len(html_parts) > 1 else 0)
            continue
        head, tail = _split_block(block, room) if room >= limit // 4 else (None, block)
        if head is not None:
            html_parts.append(head.render())
            plain_parts.append(head.source())
        flush()
        if tail is not None:
            queue.appendleft(tail)
    flush()
    return chunks or [Chunk(escape("(empty)"), "(empty)")]


def render_host(text: str, limit: int = LIMIT) -> list[Chunk]:
    """A host notice: italic and prefixed, so it reads apart from the agent's words."""
    overhead = utf16_len("<i></i>" + HOST_PREFIX)
    budget = max(1, limit - overhead)
    pieces = split_text(
        text.strip(), budget, breaks=(" ",), measure=_rendered(escape), fences=False
    ) or [""]
    return [Chunk(f"<i>{escape(HOST_PREFIX + p)}</i>", HOST_PREFIX + p) for p in pieces]
