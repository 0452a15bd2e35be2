"""Mentions, commands and replies become pynchy's trigger; offsets are UTF-16 units."""

from __future__ import annotations

from fake_telegram import _entities
from pynchy_telegram.inbound import (
    addressed_content,
    message_number,
    platform_id,
    sender_name,
)
from telegram import Chat, MessageEntity, User

BOT = "pynchy_test_bot"
BOT_ID = 99


def content(text: str, *, private=False, reply=False, admin=False, trigger="@Pynchy", ents=None):
    entities = ents if ents is not None else [MessageEntity(**e) for e in _entities(text)]
    return addressed_content(
        text,
        entities,
        bot_username=BOT,
        bot_id=BOT_ID,
        trigger=trigger,
        private=private,
        reply_to_bot=reply,
        admin=admin,
    )


def test_mention_of_the_bot_becomes_the_trigger() -> None:
    assert content(f"@{BOT} what's for dinner?") == "@Pynchy what's for dinner?"
    assert content(f"hey @{BOT.upper()}, hi") == "hey @Pynchy, hi"
    assert content(f"@{BOT} hi", trigger="@bob") == "@bob hi"


def test_other_mentions_and_plain_messages_are_left_alone() -> None:
    assert content("@somebody_else look") == "@somebody_else look"
    assert content("dinner at 7?") == "dinner at 7?"
    assert content("approve 12") == "approve 12"


def test_utf16_offsets_after_emoji() -> None:
    assert content(f"😀😀 @{BOT} ok") == "😀😀 @Pynchy ok"


def test_command_for_the_bot() -> None:
    assert content(f"/reset@{BOT}") == "@Pynchy /reset"
    assert content(f"/reset@{BOT}", admin=True) == "/reset"
    assert content("/start@other_bot") == "/start@other_bot"


def test_private_chat_and_reply_to_the_bot_are_addressed() -> None:
    assert content("hello", private=True) == "@Pynchy hello"
    assert content("yes please", reply=True) == "@Pynchy yes please"
    assert content("approve 12", reply=True, admin=True) == "approve 12"
    assert content("@Pynchy already", private=True) == "@Pynchy already"


def test_text_mention_of_the_bot() -> None:
    user = User(id=BOT_ID, first_name="Pynchy Test", is_bot=True)
    ents = [MessageEntity(type="text_mention", offset=3, length=11, user=user)]
    assert content("hi Pynchy Test, go", ents=ents) == "hi @Pynchy, go"


def test_platform_ids_are_unique_per_chat() -> None:
    assert platform_id(-1001, 7) == "-1001:7"
    assert message_number("-1001:7", -1001) == 7
    assert message_number("-1001:7", "-1001") == 7
    assert message_number("-1002:7", -1001) is None  # the group used to be another chat
    assert message_number(None, 1) is None and message_number("x", 1) is None


def test_sender_names() -> None:
    ann = User(id=1, first_name="Ann", last_name="Lee", is_bot=False)
    assert sender_name(ann) == "Ann Lee"
    assert sender_name(User(id=2, first_name="", is_bot=False, username="bo")) == "@bo"
    assert sender_name(ann, Chat(id=-5, type="channel", title="News")) == "News"
