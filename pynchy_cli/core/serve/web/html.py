"""HTML that escapes by default: stored text (messages, prompts, tool calls, run errors)
can only ever become text on the page, never markup or script.

`Html` is markup already made safe; everything else given to `esc`, `fmt` or `tag` is
escaped, after its control characters and bidi overrides are made visible (`\\x1b`,
`\\u202e`), as the terminal shows them."""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(text: str) -> str:
    """Control characters and bidi overrides shown as escapes, never obeyed."""
    return _HIDDEN.sub(_visible, text.replace("\r\n", "\n"))


class Html(str):
    """Markup that is safe as it is (made by this module, or by code that escaped)."""

    __slots__ = ()

    def __add__(self, other: str) -> Html:
        return Html(str.__add__(self, esc(other)))


def esc(value: Any) -> Html:
    """`value` as HTML text: Html passes, None is empty, anything else is escaped."""
    if isinstance(value, Html):
        return value
    if value is None:
        return Html("")
    return Html(html.escape(neutralise(str(value)), quote=True))


class _Escaping(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Html):
            return value
        return esc(format(value, format_spec) if format_spec else value)


_FORMATTER = _Escaping()


def fmt(template: str, /, **values: Any) -> Html:
    """The template (trusted markup written in the code) with every value escaped."""
    return Html(_FORMATTER.vformat(template, (), values))


def join(parts: Iterable[Any], sep: str = "") -> Html:
    return Html(sep.join(esc(p) for p in parts))


def attrs(**values: Any) -> Html:
    """` name="value"` pairs; a trailing _ is dropped (class_), _ becomes -, True is a
    bare attribute, False and None leave it out."""
    out = []
    for key, value in values.items():
        name = key.rstrip("_").replace("_", "-")
        if value is True:
            out.append(f" {name}")
        elif value not in (None, False):
            out.append(f' {name}="{esc(value)}"')
    return Html("".join(out))


def tag(name: str, *children: Any, **attributes: Any) -> Html:
    """<name attributes>children</name>, children escaped unless Html."""
    return Html(f"<{name}{attrs(**attributes)}>{join(children)}</{name}>")
