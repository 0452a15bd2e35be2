"""From a Telegram message to what pynchy stores: sender, content, platform id.

In groups a bot is addressed by a mention (@botname), a command meant for it
(/cmd@botname), a text mention of it, or a reply to one of its messages; in a private chat
every message is addressed. pynchy's router knows only the group's trigger text
(`@Pynchy` by default), so an addressed message gets it: the bot's @mention is replaced by
the trigger, otherwise the trigger is put in front.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def platform_id(chat_id: int | str, message_id: int) -> str:
    """Telegram numbers messages per chat; pynchy's ids are unique per channel."""
    return f"{chat_id}:{message_id}"


def message_number(platform: str | None, chat_id: int | str) -> int | None:
    """The message number from a stored platform id, if it is one of this chat's."""
    if not platform or ":" not in platform:
        return None
    chat, _, number = platform.rpartition(":")
    if chat != str(chat_id):
        return None  # the group was mapped to another chat before
    try:
        return int(number)
    except ValueError:
        return None


def sender_name(user: Any, sender_chat: Any = None) -> str:
    """A person's name; for a message sent on behalf of a chat (an anonymous admin, a
    linked channel), that chat's title."""
    if sender_chat is not None and getattr(sender_chat, "title", None):
        return str(sender_chat.title)
    if user is None:
        return "telegram"
    name = " ".join(p for p in (user.first_name, user.last_name) if p).strip()
    return name or (f"@{user.username}" if user.username else f"telegram:{user.id}")


def has_trigger(content: str, trigger: str) -> bool:
    """The same rule as pynchy's router: the trigger as a word of its own."""
    pattern = r"(?<![\w@])" + re.escape(trigger) + r"(?!\w)"
    return re.search(pattern, content, re.IGNORECASE) is not None


def _units(text: str) -> bytes:
    return text.encode("utf-16-le")


def addressed_content(
    text: str,
    entities: Sequence[Any],
    *,
    bot_username: str | None,
    bot_id: int | None,
    trigger: str,
    private: bool,
    reply_to_bot: bool,
    admin: bool,
) -> str:
    """The content to store: the bot's mentions become the trigger; a message otherwise
    addressed to the bot (private chat, reply to the bot, a command for it) is prefixed
    with the trigger in groups that need one. Entity offsets are UTF-16 code units."""
    data = _units(text)
    me = f"@{bot_username}".lower() if bot_username else None
    edits: list[tuple[int, int, str]] = []  # (offset, length, replacement) in UTF-16 units
    mentioned = False
    for entity in entities:
        start, length = entity.offset, entity.length
        segment = data[start * 2 : (start + length) * 2].decode("utf-16-le", errors="replace")
        if entity.type == "mention" and me and segment.lower() == me:
            edits.append((start, length, trigger))
            mentioned = True
        elif entity.type == "bot_command" and me and segment.lower().endswith(me):
            edits.append((start, length, segment[: len(segment) - len(me)]))
            mentioned = True
        elif entity.type == "text_mention" and bot_id is not None:
            user = getattr(entity, "user", None)
            if user is not None and user.id == bot_id:
                edits.append((start, length, trigger))
                mentioned = True
    for start, length, replacement in sorted(edits, reverse=True):
        data = data[: start * 2] + _units(replacement) + data[(start + length) * 2 :]
    content = data.decode("utf-16-le", errors="replace")
    addressed = mentioned or private or reply_to_bot
    if addressed and not admin and not has_trigger(content, trigger):
        content = f"{trigger} {content}"
    return content
