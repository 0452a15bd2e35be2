"""Whether a group's replies are spoken: the group's own flag (`pynchy groups set G
--voice` / `--no-voice`, the groups.voice column), else `[voice] speak` (core.voice.desk)."""

from __future__ import annotations

from sqlite_utils import Database


def group_voice(db: Database, group_id: int) -> bool | None:
    """The group's own choice: True (speak every reply), False (never), None (config)."""
    value = db["groups"].get(group_id).get("voice")
    return None if value is None else bool(value)


def set_group_voice(db: Database, group_id: int, value: bool | None) -> None:
    db["groups"].update(group_id, {"voice": None if value is None else int(value)})


def answers_voice(db: Database, group_id: int, watermark: int) -> bool:
    """Whether the newest person message a reply answers was a voice message."""
    rows = list(
        db.query(
            "select audio from messages where group_id = ? and id <= ? and sender_kind ="
            " 'person' order by id desc limit 1",
            [group_id, watermark],
        )
    )
    return bool(rows and rows[0]["audio"])
