"""Groups: one per conversation, each with its own folder, memory file and session."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.agent.mounts import resolve_mounts
from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import ConflictError, NotFoundError, UsageError
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.workspace_files import write_file

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

MEMORY_FILE = "CLAUDE.md"

_GROUP_MEMORY = """# {name}

This is the memory of the group "{name}": a short index the agent reads at the start of
every run, with facts worth keeping (who is here, preferences, ongoing work). Details go in
skills, .claude/skills/NAME/SKILL.md, with one line here for each.
"""

_GLOBAL_MEMORY = """# Global memory

Shared, read-only, with every group's agent. Put here what every group should know.
"""


@dataclass
class Group:
    id: int
    name: str
    folder: str
    admin: bool
    trigger: str | None
    model: str | None
    account: str | None
    network: bool
    channel: str
    chat_id: str | None
    session_id: str | None
    last_answered_id: int
    created_at: str
    mounts: list[str] = field(default_factory=list)  # "PATH[:rw]", checked by the allowlist
    profile: str = "default"  # its security profile (core.policy.profiles)
    # What its runs ask Ray for when scaling is ray (core.scaling.requests); {}: defaults
    resources: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Group:
        return cls(
            id=row["id"],
            name=row["name"],
            folder=row["folder"],
            admin=bool(row["admin"]),
            trigger=row["trigger"],
            model=row["model"],
            account=row["account"],
            network=bool(row["network"]),
            channel=row["channel"] or "terminal",
            chat_id=row["chat_id"],
            session_id=row["session_id"],
            last_answered_id=row["last_answered_id"] or 0,
            created_at=row["created_at"],
            mounts=json.loads(row.get("mounts") or "[]"),
            profile=row.get("profile") or "default",
            resources=json.loads(row.get("resources") or "{}"),
        )

    @property
    def path(self) -> Path:
        return Path(self.folder)

    def trigger_word(self, assistant_name: str) -> str:
        """The word that addresses the agent here: its own trigger, else @assistant_name."""
        return self.trigger or f"@{assistant_name}"

    def answers(self, assistant_name: str) -> str:
        """What the agent answers in this group, for people: admin groups answer all."""
        return "(all messages)" if self.admin else self.trigger_word(assistant_name)

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": self.folder,
            "admin": self.admin,
            "trigger": self.trigger,
            "model": self.model,
            "account": self.account,
            "network": self.network,
            "channel": self.channel,
            "chat_id": self.chat_id,
            "mounts": self.mounts,
            "profile": self.profile,
            "resources": self.resources,
            "created_at": self.created_at,
        }


def validate_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UsageError(
            f"invalid group name {name!r}",
            "Use 1-40 lowercase letters, digits, - or _, starting with a letter or digit",
        )
    return name


def ensure_global_memory(paths: Paths) -> Path:
    folder = paths.global_memory_dir
    folder.mkdir(parents=True, exist_ok=True)
    write_file(folder, MEMORY_FILE, _GLOBAL_MEMORY, replace=False)
    return folder


def add_group(
    db: Database,
    paths: Paths,
    name: str,
    *,
    admin: bool = False,
    trigger: str | None = None,
    folder: Path | None = None,
    model: str | None = None,
    account: str | None = None,
    network: bool = False,
    channel: str = "terminal",
    chat_id: str | None = None,
    mounts: list[str] | None = None,
    profile: str | None = None,
    resources: dict[str, Any] | None = None,
) -> Group:
    """A new group; `profile` is checked against the settings by the caller
    (core.policy.profiles.check_assignment)."""
    validate_name(name)
    if mounts:
        resolve_mounts(paths, mounts)  # refuse now what every run would refuse
    if find_group(db, name):
        raise ConflictError(
            f"group {name!r} already exists", f"See it with: pynchy groups show {name}"
        )
    if channel and chat_id and _find_by_chat(db, channel, chat_id):
        raise ConflictError(
            f"{channel} chat {chat_id} is already mapped to a group", "See: pynchy groups list"
        )
    target = (folder or paths.groups_dir / name).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder", "Choose another --folder")
    target.mkdir(parents=True, exist_ok=True)
    # An existing workspace's memory (even a symlink a container planted) is left alone.
    write_file(target, MEMORY_FILE, _GROUP_MEMORY.format(name=name), replace=False)
    ensure_global_memory(paths)
    db["groups"].insert(
        {
            "name": name,
            "folder": str(target),
            "admin": int(admin),
            "trigger": trigger,
            "model": model,
            "account": account,
            "network": int(network),
            "channel": channel,
            "chat_id": chat_id,
            "mounts": json.dumps(mounts or []),
            "profile": profile,
            "resources": json.dumps(resources or {}),
            "last_answered_id": 0,
            "created_at": utcnow(),
        }
    )
    return get_group(db, name)


def find_group(db: Database, name: str) -> Group | None:
    rows = list(db["groups"].rows_where("name = ?", [name]))
    return Group.from_row(rows[0]) if rows else None


def _find_by_chat(db: Database, channel: str, chat_id: str) -> Group | None:
    rows = list(db["groups"].rows_where("channel = ? and chat_id = ?", [channel, chat_id]))
    return Group.from_row(rows[0]) if rows else None


def group_for_chat(db: Database, channel: str, chat_id: str) -> Group | None:
    return _find_by_chat(db, channel, chat_id)


def get_group(db: Database, name: str) -> Group:
    group = find_group(db, name)
    if group is None:
        raise NotFoundError(f"no group named {name!r}", "List groups with: pynchy groups list")
    return group


def get_group_by_id(db: Database, group_id: int) -> Group:
    return Group.from_row(db["groups"].get(group_id))


def list_groups(db: Database) -> list[Group]:
    return [Group.from_row(r) for r in db["groups"].rows_where(order_by="name")]


def update_group(db: Database, name: str, **fields: Any) -> Group:
    group = get_group(db, name)
    allowed = {
        *("admin", "trigger", "model", "account", "network", "session_id", "last_answered_id"),
        *("channel", "chat_id", "mounts", "profile", "resources"),
    }
    bad = set(fields) - allowed
    if bad:
        raise UsageError(f"cannot change {', '.join(sorted(bad))} of a group")
    values = {k: (int(v) if isinstance(v, bool) else v) for k, v in fields.items()}
    if "mounts" in values:
        values["mounts"] = json.dumps(values["mounts"] or [])
    if "resources" in values:
        values["resources"] = json.dumps(values["resources"] or {})
    db["groups"].update(group.id, values)
    return get_group(db, name)


def set_group(db: Database, paths: Paths, name: str, **changes: Any) -> Group:
    """Change a group's settings (those of `pynchy groups add` but its folder), checked as
    add_group checks them; `profile` is checked by the caller."""
    group = get_group(db, name)
    if changes.get("mounts"):
        resolve_mounts(paths, changes["mounts"])  # refuse now what every run would refuse
    channel = changes.get("channel", group.channel)
    chat_id = changes.get("chat_id", group.chat_id)
    if channel and chat_id and (channel, chat_id) != (group.channel, group.chat_id):
        taken = _find_by_chat(db, channel, chat_id)
        if taken is not None and taken.id != group.id:
            raise ConflictError(
                f"{channel} chat {chat_id} is already mapped to a group", "See: pynchy groups list"
            )
    return update_group(db, name, **changes) if changes else group


def remove_group(db: Database, name: str, *, delete_files: bool = False) -> Group:
    """Remove a group and its stored history. Its folder stays unless delete_files."""
    group = get_group(db, name)
    with db.atomic():
        for child, parent in (("run_events", "runs"), ("task_runs", "tasks")):
            key = "run_id" if parent == "runs" else "task_id"
            db.execute(
                f"delete from {child} where {key} in (select id from {parent} where group_id = ?)",
                [group.id],
            )
        for table in ("tasks", "runs", "messages", "sessions", "memory_layout"):
            db.execute(f"delete from {table} where group_id = ?", [group.id])
        db.execute("delete from groups where id = ?", [group.id])
    if delete_files and group.path.exists():
        shutil.rmtree(group.path)  # fd-based on Linux: symlinks inside are unlinked, not followed
    return group
