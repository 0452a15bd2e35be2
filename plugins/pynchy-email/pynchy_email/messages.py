"""Turning a raw message into what an agent reads: headers, a text body (HTML made plain),
the attachments' names. Everything is cut to a size the agent asked for, and nothing
here acts on what a message says."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.policy import default
from html.parser import HTMLParser
from typing import Any

MAX_HEADER = 1000  # characters of one header shown
MAX_ATTACHMENTS = 50
HEADERS = ("from", "to", "cc", "reply-to", "date", "subject", "message-id")


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def cut(text: str, limit: int) -> tuple[str, int]:
    """The text within `limit` characters, and how many were left out."""
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


def header(message: Message, name: str) -> str:
    try:
        value = str(message.get(name) or "")
    except Exception:  # a header the parser cannot make sense of (untrusted input)
        value = "[unreadable header]"
    text = " ".join(value.split())
    return cut(text, MAX_HEADER)[0]


def headers(message: Message) -> dict[str, str]:
    return {name.replace("-", "_"): header(message, name) for name in HEADERS if message.get(name)}


class _Text(HTMLParser):
    """HTML to plain text: the words, a line break per block, no scripts or styles."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head"):
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def body_text(message: EmailMessage) -> str:
    """The message's text: its text/plain part, else its HTML part made plain."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _content(part)  # type: ignore[arg-type]
    return html_to_text(text) if part.get_content_subtype() == "html" else text.strip()


def attachments(message: EmailMessage) -> list[dict[str, Any]]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        found.append(
            {
                "filename": cut(str(part.get_filename() or ""), 200)[0],
                "content_type": part.get_content_type(),
                "size": len(payload) if isinstance(payload, bytes) else 0,
            }
        )
        if len(found) >= MAX_ATTACHMENTS:
            break
    return found


def flag_names(flags: list[str]) -> dict[str, bool]:
    lowered = {f.lower() for f in flags}
    return {
        "unread": "\\seen" not in lowered,
        "flagged": "\\flagged" in lowered,
        "answered": "\\answered" in lowered,
    }


def summary(uid: int, raw_headers: bytes, flags: list[str], size: int) -> dict[str, Any]:
    """One line of a search result."""
    message = parse(raw_headers)
    return {"uid": uid, **headers(message), **flag_names(flags), "size": size}


def full(
    uid: int, raw: bytes, flags: list[str], size: int, max_chars: int, partial: bool
) -> dict[str, Any]:
    """A message as read_message answers it."""
    message = parse(raw)
    text, left_out = cut(body_text(message), max_chars)
    found: dict[str, Any] = {"uid": uid, **headers(message), **flag_names(flags), "size": size}
    found["body"] = text
    if left_out:
        found["body_cut"] = f"{left_out} more characters; ask with a larger max_chars"
    if partial:
        found["body_cut"] = "the message is larger than pynchy reads; only its start is shown"
    found["attachments"] = attachments(message)
    return found
