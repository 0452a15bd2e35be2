"""pynchy's own tools: they run on the host, after the policy gate allowed the call.

Each tool only touches the calling group's own messages, tasks and session. Their tiers
are in core.policy.tiers; the gate (core.policy.gate) decides and records every call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core import tasks
from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import Group
from pynchy_cli.protocol import tool_spec

_TASK_ID = {"task_id": {"type": "integer", "description": "the task's number"}}

HOST_TOOLS: list[dict[str, Any]] = [
    tool_spec(
        "send_message",
        "Send a message to the group's chat right away, before the run "
        "ends (progress updates, answers to several people).",
        {"text": {"type": "string"}},
        ["text"],
    ),
    tool_spec(
        "schedule_task",
        "Schedule a prompt to run later in this group: kind 'cron' "
        "(spec: five-field cron), 'interval' (spec: 30m, 2h, 1d) or 'once' (spec: ISO time).",
        {
            "prompt": {"type": "string"},
            "kind": {"type": "string", "enum": list(tasks.KINDS)},
            "spec": {"type": "string"},
            "name": {"type": "string"},
        },
        ["prompt", "kind", "spec"],
    ),
    tool_spec("list_tasks", "List this group's scheduled tasks.", {}),
    tool_spec("pause_task", "Pause one of this group's tasks.", _TASK_ID, ["task_id"]),
    tool_spec("resume_task", "Resume a paused task of this group.", _TASK_ID, ["task_id"]),
    tool_spec("cancel_task", "Cancel one of this group's tasks for good.", _TASK_ID, ["task_id"]),
    tool_spec(
        "reset_context",
        "Start a fresh session after this run: the conversation history "
        "is dropped (memory files stay).",
        {},
    ),
]
HOST_TOOL_NAMES = tuple(t["name"] for t in HOST_TOOLS)
SPECS = {t["name"]: t for t in HOST_TOOLS}

_JSON_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}


def check_arguments(spec: dict[str, Any], arguments: Any) -> str | None:
    """Why these arguments do not fit the tool's schema, or None if they do."""
    if not isinstance(arguments, dict):
        return "arguments must be an object"
    schema = spec["input_schema"]
    props = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in arguments:
            return f"missing argument {key}"
    for key, value in arguments.items():
        if key not in props:
            return f"unknown argument {key}"
        want = _JSON_TYPES.get(props[key].get("type", ""), object)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            return f"argument {key} must be of type {props[key]['type']}"
        if "enum" in props[key] and value not in props[key]["enum"]:
            return f"argument {key} must be one of {', '.join(props[key]['enum'])}"
        if isinstance(value, str) and len(value) > 20_000:
            return f"argument {key} is too long"
    return None


Deliver = Callable[[str], Awaitable[None]]


@dataclass
class HostToolbox:
    db: Database
    group: Group
    run_id: str
    assistant_name: str
    deliver: Deliver | None = None  # sends to the group's channel (serve); None: just stored
    reset_requested: bool = False
    sent: list[str] = field(default_factory=list)

    def check(self, name: str, arguments: Any) -> str | None:
        """Why these arguments do not fit the tool's schema, or None."""
        spec = SPECS.get(name)
        return f"unknown tool {name}" if spec is None else check_arguments(spec, arguments)

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """Run a tool the gate allowed (arguments checked by `check`): (text, is_error)."""
        try:
            return await getattr(self, "_" + name)(**arguments), False
        except PynchyError as exc:
            return exc.line(), True

    async def _send_message(self, text: str) -> str:
        self.db["messages"].insert(
            {
                "group_id": self.group.id,
                "channel": self.group.channel,
                "sender": self.assistant_name,
                "sender_kind": "assistant",
                "content": text,
                "run_id": self.run_id,
                "created_at": utcnow(),
            }
        )
        self.sent.append(text)
        if self.deliver:
            await self.deliver(text)
        return "sent"

    async def _schedule_task(
        self, prompt: str, kind: str, spec: str, name: str | None = None
    ) -> str:
        task = tasks.add_task(
            self.db, self.group.id, prompt, kind, spec, name=name, created_by="agent"
        )
        return f"scheduled task {task['id']}; next run {task['next_run_at']}"

    async def _list_tasks(self) -> str:
        rows = tasks.list_tasks(self.db, self.group.id)
        brief = [
            {k: r[k] for k in ("id", "name", "kind", "spec", "status", "next_run_at", "prompt")}
            for r in rows
        ]
        return json.dumps(brief) if brief else "no tasks"

    async def _pause_task(self, task_id: int) -> str:
        tasks.set_status(self.db, task_id, "paused", self.group.id)
        return f"paused task {task_id}"

    async def _resume_task(self, task_id: int) -> str:
        task = tasks.set_status(self.db, task_id, "active", self.group.id)
        return f"resumed task {task_id}; next run {task['next_run_at']}"

    async def _cancel_task(self, task_id: int) -> str:
        tasks.set_status(self.db, task_id, "cancelled", self.group.id)
        return f"cancelled task {task_id}"

    async def _reset_context(self) -> str:
        self.reset_requested = True
        return "the next run starts a fresh session"
