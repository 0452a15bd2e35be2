"""Everything pynchy says to a group, and the group's cursor.

Replies, host notices and an agent's send_message leave through the Outbox. A reply is
stored with its `outbound` row (key `<run id>:<number>`) before its channel sees it; once
the channel has taken it, the row is closed and the group's cursor moves, in one
transaction. Rows still open at start are sent again before any group runs.

The cursor (groups.last_answered_id: the newest message the agent has dealt with) moves
only here, and every move is published on the bus as a `cursor` event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import Group, get_group_by_id
from pynchy_cli.core.serve.bus import Bus
from pynchy_cli.core.serve.channels import Channel
from pynchy_cli.core.serve.messages import store_message

log = logging.getLogger("pynchy.serve")

# Sends a spoken copy of a delivered reply when the group asks for voice (core.voice.desk):
# (channel, group, text, key, watermark); never raises.
Speak = Callable[[Channel, Group, str, str, int], Awaitable[None]]


def reply_key(run_id: str, number: int) -> str:
    """The outbound key of a run's `number`th reply; channels use it for idempotent sends."""
    return f"{run_id}:{number}"


class Outbox:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        bus: Bus,
        sender: str,
        speak: Speak | None = None,
    ):
        """`channels` by name (a group on an unknown channel falls back to `terminal`);
        `sender`: the assistant's name on its replies."""
        self.db = db
        self.channels = channels
        self.bus = bus
        self.sender = sender
        self.speak = speak

    def channel_for(self, group: Group) -> Channel:
        return self.channels.get(group.channel) or self.channels["terminal"]

    async def reply(
        self, group: Group, run_id: str, number: int, text: str, watermark: int
    ) -> None:
        """An agent's answer to the messages up to `watermark`: stored, sent, and then the
        cursor moves. A key already recorded sends nothing (the run's answer was retried)."""
        message = _record_reply(self.db, group, run_id, number, text, watermark, self.sender)
        if message is None:
            return
        key = reply_key(run_id, number)
        await self._send(group, text, key, "assistant")
        _mark_delivered(self.db, key)
        self.bus.publish({"type": "message", "group": group.name, **message})
        self._publish_cursor(group)
        log.info("reply out group=%s run=%s message=%s", group.name, run_id, message["id"])
        if self.speak is not None:  # after the text and the cursor: audio is a courtesy
            await self.speak(self.channel_for(group), group, text, key, watermark)

    async def notify(self, group: Group, text: str) -> None:
        """A host notice: shown to people, never put in a model's context."""
        message, _ = store_message(self.db, group, "pynchy", text, sender_kind="host")
        await self._send(group, text, f"host:{message['id']}", "host")
        self.bus.publish({"type": "message", "group": group.name, **message})
        self._publish_cursor(group)

    async def settle_without_reply(
        self, group: Group, upto: int, notice: str | None = None
    ) -> None:
        """The messages up to `upto` are dealt with although no reply answers them (a reset,
        a failed run, an empty answer): the cursor moves past them so they are not answered
        again, then `notice` tells the person why."""
        _advance_cursor(self.db, group.id, upto)
        if notice:
            await self.notify(group, notice)  # publishes the moved cursor too
        else:
            self._publish_cursor(group)

    async def relay_sent_message(self, group: Group, text: str) -> None:
        """An agent's send_message: already stored by the tool, now shown."""
        await self._send(group, text, "", "assistant")
        self.bus.publish(
            {
                "type": "message",
                "group": group.name,
                "sender_kind": "assistant",
                "sender": self.sender,
                "content": text,
            }
        )

    async def typing(self, group: Group, active: bool) -> None:
        await self.channel_for(group).typing(group, active)

    async def resend_undelivered(self, prefix: str = "") -> None:
        """Replies a crash left recorded but unsent, sent again under their keys. Call it
        before groups run: an unsent reply's messages would otherwise be answered twice.
        `prefix`: only keys that start with it (what other processes recorded for serve to
        send, e.g. a timer's periodic run: core.periodic.runner)."""
        for row in _undelivered(self.db, prefix):
            group = get_group_by_id(self.db, row["group_id"])
            kind = "host" if row["sender_kind"] == "host" else "assistant"
            await self._send(group, row["content"], row["key"], kind)
            _mark_delivered(self.db, row["key"])
            if prefix:  # serve's own replies were published when made; these were not
                message = self.db["messages"].get(row["message_id"])
                self.bus.publish({"type": "message", "group": group.name, **message})

    async def _send(self, group: Group, text: str, key: str, kind: str) -> None:
        """Hand text to the group's channel. Channels retry passing failures themselves; a
        failure that reaches here is final (chat gone, bot removed): the reply stays stored
        and readable through the API, and serve moves on instead of answering again."""
        try:
            await self.channel_for(group).send(group, text, key=key, kind=kind)
        except Exception as exc:
            why = exc.line() if isinstance(exc, PynchyError) else repr(exc)
            log.error(
                "delivery failed group=%s channel=%s key=%s: %s",
                group.name,
                group.channel,
                key,
                why,
            )

    def _publish_cursor(self, group: Group) -> None:
        current = get_group_by_id(self.db, group.id).last_answered_id
        self.bus.publish({"type": "cursor", "group": group.name, "last_answered_id": current})


# --- the outbound table and the cursor ------------------------------------------------


def _record_reply(
    db: Database, group: Group, run_id: str, number: int, text: str, watermark: int, sender: str
) -> dict[str, Any] | None:
    """Store a reply and its outbound row in one transaction; None if the key is already
    recorded. The cursor moves later, in _mark_delivered."""
    key = reply_key(run_id, number)
    with db.atomic():
        if list(db.query("select key from outbound where key = ?", [key])):
            return None
        table = db["messages"]
        table.insert(
            {
                "group_id": group.id,
                "channel": group.channel,
                "sender": sender,
                "sender_kind": "assistant",
                "content": text,
                "run_id": run_id,
                "reply_to": watermark,
                "created_at": utcnow(),
            }
        )
        message_id = table.last_pk
        db["outbound"].insert(
            {
                "key": key,
                "run_id": run_id,
                "group_id": group.id,
                "channel": group.channel,
                "message_id": message_id,
                "watermark": watermark,
                "created_at": utcnow(),
            }
        )
    return db["messages"].get(message_id)


def _mark_delivered(db: Database, key: str) -> None:
    """The channel took the reply: close its outbound row and move the group's cursor."""
    with db.atomic():
        row = db["outbound"].get(key)
        db["outbound"].update(key, {"sent_at": utcnow()})
        _advance_cursor(db, row["group_id"], row["watermark"])


def _undelivered(db: Database, prefix: str = "") -> list[dict[str, Any]]:
    return list(
        db.query(
            "select outbound.*, messages.content, messages.sender_kind from outbound join"
            " messages on messages.id = outbound.message_id where outbound.sent_at is null"
            " and substr(outbound.key, 1, length(?)) = ? order by outbound.created_at",
            [prefix, prefix],
        )
    )


def _advance_cursor(db: Database, group_id: int, upto: int) -> None:
    db.execute(
        "update groups set last_answered_id = max(last_answered_id, ?) where id = ?",
        [upto, group_id],
    )
