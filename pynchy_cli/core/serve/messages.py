"""Messages in: stored first and idempotent; the trigger rule, reset words and the prompt
built from what came after the group's cursor. (Replies and the cursor: outbox.py.)

Sender kinds: `person` (people on a channel), `assistant` (the agent's replies),
`system` (harness turns both the model and the person see) and `host` (pynchy's own
notices: shown to the person, never put in a model's context).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import UsageError
from pynchy_cli.core.groups import Group

SENDER_KINDS = ("person", "assistant", "system", "host")
CONTEXT_KINDS = ("person", "system")  # what goes into a model's prompt
RESET_WORDS = ("reset", "new session", "start over", "/reset", "/new")
MAX_MESSAGE_CHARS = 32_000


def store_message(
    db: Database,
    group: Group,
    sender: str,
    content: str,
    *,
    sender_kind: str = "person",
    channel: str | None = None,
    platform_id: str | None = None,
    run_id: str | None = None,
    reply_to: int | None = None,
    audio: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a message (committed on return). Returns (row, created); a platform id seen
    before returns the stored row and created=False, so redelivery is harmless. `audio`:
    a voice message's JSON reference (core.voice.desk)."""
    if sender_kind not in SENDER_KINDS:
        raise UsageError(f"unknown sender kind {sender_kind!r}")
    if not content.strip():
        raise UsageError("empty message", "Type something")
    if len(content) > MAX_MESSAGE_CHARS:
        raise UsageError(f"message longer than {MAX_MESSAGE_CHARS} characters", "Split it")
    channel = channel or group.channel
    if platform_id is not None:
        seen = list(
            db["messages"].rows_where("channel = ? and platform_id = ?", [channel, platform_id])
        )
        if seen:
            return seen[0], False
    table = db["messages"]
    table.insert(
        {
            "group_id": group.id,
            "channel": channel,
            "platform_id": platform_id,
            "sender": sender[:200],
            "sender_kind": sender_kind,
            "content": content,
            "run_id": run_id,
            "reply_to": reply_to,
            "audio": audio,
            "created_at": utcnow(),
        }
    )
    return db["messages"].get(table.last_pk), True


def addressed(group: Group, content: str, assistant_name: str) -> bool:
    """Admin groups answer everything; others only when the trigger word appears."""
    if group.admin:
        return True
    trigger = group.trigger or f"@{assistant_name}"
    pattern = r"(?<![\w@])" + re.escape(trigger) + r"(?!\w)"
    return re.search(pattern, content, re.IGNORECASE) is not None


def strip_trigger(group: Group, content: str, assistant_name: str) -> str:
    trigger = group.trigger or f"@{assistant_name}"
    return re.sub(re.escape(trigger), "", content, flags=re.IGNORECASE).strip(" ,:")


def is_reset(group: Group, content: str, assistant_name: str) -> bool:
    text = strip_trigger(group, content, assistant_name).strip().lower().rstrip(".!")
    return text in RESET_WORDS


def unanswered(db: Database, group: Group) -> list[dict[str, Any]]:
    """Context messages after the group's cursor, oldest first."""
    return list(
        db.query(
            "select * from messages where group_id = ? and id > ? and sender_kind in"
            " ('person', 'system') and run_id is null order by id",
            [group.id, group.last_answered_id],
        )
    )


APPROVAL_MARK = "approval"


def mark_approval_answer(db: Database, message_id: int) -> None:
    """An `approve ID` / `deny ID` answer stays out of every prompt."""
    db["messages"].update(message_id, {"run_id": APPROVAL_MARK})


def format_prompt(messages: list[dict[str, Any]]) -> str:
    """Every message since the agent last answered, with time and sender."""
    lines = []
    for m in messages:
        when = datetime.fromisoformat(m["created_at"]).astimezone()
        lines.append(f"[{when:%Y-%m-%d %H:%M}] {m['sender']}: {m['content']}")
    return "\n".join(lines)


def messages_after(
    db: Database, group: Group, after_id: int = 0, limit: int = 200
) -> list[dict[str, Any]]:
    return list(
        db.query(
            "select id, sender, sender_kind, content, run_id, reply_to, audio, created_at from"
            " messages"
            " where group_id = ? and id > ? order by id limit ?",
            [group.id, after_id, limit],
        )
    )


def last_message_id(db: Database, group: Group) -> int:
    """The newest message id of the group (0 when it has none): where a client starts."""
    rows = list(db.query("select max(id) as id from messages where group_id = ?", [group.id]))
    return rows[0]["id"] or 0
