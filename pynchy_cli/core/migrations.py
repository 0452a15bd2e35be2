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


@MIGRATIONS(name="0006_budgets")
def m0006_budgets(db: Database) -> None:
    # A group's spending caps (JSON, the keys of config.Budget), set by `groups set --budget`.
    db["groups"].add_column("budget", str)
    # Budget warnings already given, one per budget and period: key
    # <scope>:<name>:<cap>:<period start>. runs.cost_usd may now be null: price unknown.
    db["budget_notices"].create({"key": str, "at": str}, pk="key", not_null={"at"})
    db["runs"].create_index(["account", "started_at"])


@MIGRATIONS(name="0007_linked_runs")
def m0007_linked_runs(db: Database) -> None:
    # Runs a run started: a delegate (its answer comes back as a tool result) or the
    # successor it handed the conversation to. `agent` is the agent profile a run used,
    # `depth` how many delegates down from the run a person or task started.
    db["runs"].add_column("parent_run_id", str)
    db["runs"].add_column("link", str)  # delegate | handoff
    db["runs"].add_column("agent", str)
    db["runs"].add_column("depth", int)
    db["runs"].create_index(["parent_run_id"])
    # The agent profile that holds a session: after a handoff, the group's next runs
    # resume the session under that agent.
    db["sessions"].add_column("agent", str)


@MIGRATIONS(name="0008_scaling")
def m0008_scaling(db: Database) -> None:
    # What a group's runs ask Ray for (JSON: cpus, memory, gpus, resources, labels; only
    # what was set for the group, [ray] in config gives the rest), and the Ray node each
    # run ran on (null in local mode).
    db["groups"].add_column("resources", str)
    db["runs"].add_column("node", str)


@MIGRATIONS(name="0009_voice")
def m0009_voice(db: Database) -> None:
    # A voice message's audio (JSON: mime, bytes, source, sha256, file under DATA/audio,
    # transcribed, problem; core.voice.desk), and whether a group's replies are spoken
    # (1 always, 0 never, null: [voice] speak decides).
    db["messages"].add_column("audio", str)
    db["groups"].add_column("voice", int)


@MIGRATIONS(name="0009_memory_layout")
def m0009_memory_layout(db: Database) -> None:
    # Groups whose memory was put in the .claude/ layout (core.memory_layout): done once
    # per group, on its first run; `moved` is the JSON list of skills made from sections.
    db["memory_layout"].create(
        {"group_id": int, "done_at": str, "moved": str},
        pk="group_id",
        not_null={"done_at"},
    )


@MIGRATIONS(name="0010_periodic_runs")
def m0010_periodic_runs(db: Database) -> None:
    # One row per (periodic agent, due time), inserted to claim it: whoever inserts first
    # (serve's scheduler, a timer's `agent run --periodic`, `periodic run`) runs it, so a
    # due time runs once. `trigger` says who; `summary` is the result's first line or why
    # it failed or was skipped.
    db["periodic_runs"].create(
        {
            "id": int,
            "name": str,
            "due_at": str,
            "trigger": str,  # serve | timer | manual
            "group_name": str,
            "status": str,  # running | ok | failed | skipped
            "run_id": str,
            "summary": str,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
        not_null={"name", "due_at", "status", "started_at"},
    )
    db["periodic_runs"].create_index(["name", "due_at"], unique=True)
    db["periodic_runs"].create_index(["started_at"])
