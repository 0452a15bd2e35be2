"""Numbered schema migrations, recorded in `_sqlite_migrations` and applied on open.

Never edit an applied migration: add the next number.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

MIGRATIONS = Migrations("pynchy")


@MIGRATIONS(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db["groups"].create(
        {
            "id": int,
            "name": str,
            "folder": str,
            "admin": int,
            "trigger": str,
            "model": str,
            "account": str,
            "network": int,
            "channel": str,
            "chat_id": str,
            "session_id": str,
            "last_answered_id": int,
            "created_at": str,
        },
        pk="id",
        not_null={"name", "folder", "created_at"},
        defaults={"admin": 0, "network": 0, "last_answered_id": 0, "channel": "terminal"},
    )
    db["groups"].create_index(["name"], unique=True)

    db["messages"].create(
        {
            "id": int,
            "group_id": int,
            "channel": str,
            "platform_id": str,
            "sender": str,
            "sender_kind": str,  # person | assistant | system | host
            "content": str,
            "run_id": str,
            "created_at": str,
        },
        pk="id",
        not_null={"group_id", "sender", "sender_kind", "content", "created_at"},
        foreign_keys=[("group_id", "groups", "id")],
    )
    db["messages"].create_index(["group_id", "id"])
    db["messages"].create_index(["channel", "platform_id"], unique=True)

    db["sessions"].create(
        {"id": str, "group_id": int, "history": str, "created_at": str, "updated_at": str},
        pk="id",
        not_null={"group_id", "history", "created_at"},
        foreign_keys=[("group_id", "groups", "id")],
    )

    db["runs"].create(
        {
            "id": str,
            "group_id": int,
            "status": str,  # queued | running | succeeded | failed | stopped | timeout
            "model": str,
            "account": str,
            "runtime": str,
            "container": str,
            "session_id": str,
            "prompt": str,
            "system_prompt": str,
            "result": str,
            "error": str,
            "input_tokens": int,
            "output_tokens": int,
            "cost_usd": float,
            "task_id": int,
            "pid": int,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
        not_null={"group_id", "status", "started_at"},
        defaults={"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
        foreign_keys=[("group_id", "groups", "id")],
    )
    db["runs"].create_index(["group_id", "started_at"])
    db["runs"].create_index(["status"])

    db["run_events"].create(
        {"id": int, "run_id": str, "seq": int, "kind": str, "data": str, "created_at": str},
        pk="id",
        not_null={"run_id", "seq", "kind", "data", "created_at"},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["run_events"].create_index(["run_id", "seq"], unique=True)

    db["tasks"].create(
        {
            "id": int,
            "group_id": int,
            "name": str,
            "prompt": str,
            "kind": str,  # cron | interval | once
            "spec": str,
            "status": str,  # active | paused | cancelled | done
            "next_run_at": str,
            "created_by": str,
            "created_at": str,
        },
        pk="id",
        not_null={"group_id", "prompt", "kind", "spec", "status", "created_at"},
        foreign_keys=[("group_id", "groups", "id")],
    )
    db["tasks"].create_index(["status", "next_run_at"])

    db["task_runs"].create(
        {
            "id": int,
            "task_id": int,
            "due_at": str,
            "run_id": str,
            "status": str,  # claimed | succeeded | failed
            "error": str,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
        not_null={"task_id", "due_at", "status", "started_at"},
        foreign_keys=[("task_id", "tasks", "id")],
    )
    # One row per (task, due time): the claim that makes each due run happen once.
    db["task_runs"].create_index(["task_id", "due_at"], unique=True)

    db["accounts"].create(
        {"name": str, "provider": str, "note": str, "created_at": str},
        pk="name",
        not_null={"provider", "created_at"},
    )

    db["approvals"].create(
        {
            "id": str,
            "run_id": str,
            "group_id": int,
            "tool": str,
            "arguments": str,
            "status": str,  # pending | approved | denied | expired
            "decided_by": str,
            "created_at": str,
            "decided_at": str,
        },
        pk="id",
        not_null={"group_id", "tool", "status", "created_at"},
    )

    db["audit"].create(
        {
            "id": int,
            "at": str,
            "run_id": str,
            "group_id": int,
            "action": str,
            "decision": str,  # allowed | denied | approved | refused
            "detail": str,
        },
        pk="id",
        not_null={"at", "action", "decision"},
    )
    db["audit"].create_index(["run_id"])


@MIGRATIONS(name="0002_outbound_ledger")
def m0002_outbound_ledger(db: Database) -> None:
    # One row per reply a run produced: the key makes a retried delivery a no-op.
    db["outbound"].create(
        {
            "key": str,  # <run id>:<answer number>
            "run_id": str,
            "group_id": int,
            "channel": str,
            "message_id": int,
            "watermark": int,  # the last inbound message this reply answers
            "created_at": str,
            "sent_at": str,  # set once the channel took it; null rows are resent on start
        },
        pk="key",
        not_null={"run_id", "group_id", "created_at"},
    )
    db["messages"].add_column("reply_to", int)  # for assistant replies: the watermark


@MIGRATIONS(name="0003_run_owner")
def m0003_run_owner(db: Database) -> None:
    # The host process that owns a run: when it is gone, the run's container is an orphan.
    db["runs"].add_column("owner_pid", int)


@MIGRATIONS(name="0004_group_mounts")
def m0004_group_mounts(db: Database) -> None:
    # Extra folders a group asks for (JSON list of "PATH[:rw]"), checked against the
    # allowlist at every run.
    db["groups"].add_column("mounts", str)


@MIGRATIONS(name="0005_policy")
def m0005_policy(db: Database) -> None:
    # Each tool decision's tier, and what the call then did: outcome ok | error, with a
    # short error. Rate limits count a group's recent rows: index by group and time.
    db["audit"].add_column("tier", str)
    db["audit"].add_column("outcome", str)
    db["audit"].add_column("error", str)
    db["audit"].create_index(["group_id", "at"])
    db["audit"].create_index(["at"])
    # A group's security profile (core.policy.profiles); null means `default`.
    db["groups"].add_column("profile", str)
