"""Attacks through the host's tools and the container's own filesystem: bad arguments,
schedule and rate-limit abuse, another group's tasks, skill traversal and symlinks, the
socket folder, root (see attack.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from typing import Any

from wire import (
    SKILLS,
    SOCKET,
    SOCKET_REFUSED,
    WORKSPACE,
    attempt,
    clip,
    refused_with,
    serving,
    setup,
    tool,
    tool_error,
)

SEND_LIMIT = 3  # the test's profile: send_message 3/minute
TASK_CAP = 2  # the test's profile: at most 2 active tasks


def refused(tool_name: str) -> tuple[str, str, None]:
    """The audit row of a call the gate (or the tool's schema check) refused."""
    return (f"tool:{tool_name}", "refused", None)


def failed(tool_name: str) -> tuple[str, str, str]:
    """The audit row of a call the gate allowed and the tool then refused to do."""
    return (f"tool:{tool_name}", "allowed", "error")


def host_tool_attacks(given: dict[str, Any]) -> None:

    for name, tool_name, words in [
        ("unknown_host_tool", "rm_rf_host", "no host tool"),
        ("local_tool_as_host_tool", "bash", "no host tool"),
        ("tool_name_not_string", 5, "no host tool"),
        ("private_method_as_tool", "_send_message", "no host tool"),
    ]:

        @attempt(name, f"tool {tool_name!r}", (SOCKET_REFUSED,))
        def _(tool_name=tool_name, words=words):
            reply = tool(tool_name, {})
            return reply, refused_with(reply, words)

    for name, tool_name, arguments, words in [
        ("arguments_not_object", "send_message", ["hi"], "must be an object"),
        ("argument_wrong_type", "send_message", {"text": 123}, "must be of type string"),
        ("argument_unknown", "send_message", {"text": "hi", "chat": "other"}, "unknown argument"),
        ("argument_missing", "schedule_task", {"prompt": "x"}, "missing argument"),
        ("argument_oversized", "send_message", {"text": "x" * 20_001}, "too long"),
        ("task_id_bool", "pause_task", {"task_id": True}, "must be of type integer"),
        ("task_id_string", "cancel_task", {"task_id": "1 or 1=1"}, "must be of type integer"),
        (
            "schedule_kind_unknown",
            "schedule_task",
            {"prompt": "x", "kind": "sh", "spec": "1"},
            "one of",
        ),
    ]:

        @attempt(name, f"{tool_name} {clip(arguments, 80)}", (refused(tool_name),))
        def _(tool_name=tool_name, arguments=arguments, words=words):
            reply = tool(tool_name, arguments)
            return reply, tool_error(reply, words)

    # The schedule floor and the task cap.
    for name, kind, spec in [
        ("schedule_every_second", "interval", "1s"),
        ("schedule_every_minute_cron", "cron", "* * * * *"),
        ("schedule_every_minute_interval", "interval", "1m"),
    ]:

        @attempt(name, f"schedule_task {kind} {spec}", (refused("schedule_task"),))
        def _(kind=kind, spec=spec):
            reply = tool("schedule_task", {"prompt": "spam", "kind": kind, "spec": spec})
            return reply, tool_error(reply, "at most every")

    for i in range(TASK_CAP):
        arguments = {"prompt": f"ok {i}", "kind": "interval", "spec": "1h"}
        setup(f"schedule_within_cap_{i}", "schedule_task", arguments)

    @attempt("schedule_beyond_task_cap", "schedule_task interval 1h", (refused("schedule_task"),))
    def _():
        reply = tool("schedule_task", {"prompt": "one more", "kind": "interval", "spec": "1h"})
        return reply, tool_error(reply, "active tasks")

    # The send_message rate limit.
    for i in range(SEND_LIMIT):
        setup(f"send_within_limit_{i}", "send_message", {"text": f"hostile test message {i}"})
    for i in range(2):

        @attempt(
            f"send_past_rate_limit_{i}",
            "send_message",
            (("tool:send_message", "rate_limited", None),),  # not run: no outcome
        )
        def _(i=i):
            reply = tool("send_message", {"text": f"one too many {i}"})
            return reply, tool_error(reply, "rate limit")

    # Another group's task: the call runs, finds no such task of this group, and fails.
    other_task = given["other_task"]
    for action in ("pause_task", "cancel_task", "resume_task"):

        @attempt(f"{action}_of_other_group", f"{action} {other_task}", (failed(action),))
        def _(action=action):
            reply = tool(action, {"task_id": other_task})
            return reply, tool_error(reply)


def skill_attacks(given: dict[str, Any]) -> None:
    skill = given["attacked_skill"]
    folder = os.path.join(SKILLS, skill)

    for name, arguments, words in [
        (
            "skill_file_traversal",
            {"name": skill, "file": "../../../../../../etc/passwd"},
            "outside",
        ),
        ("skill_file_absolute", {"name": skill, "file": "/etc/passwd"}, "outside"),
        (
            "skill_file_into_other_skill",
            {"name": skill, "file": f"../{given['good_skill']}/SKILL.md"},
            "outside",
        ),
    ]:

        @attempt(name, json.dumps(arguments), (failed("read_skill"),))
        def _(arguments=arguments, words=words):
            reply = tool("read_skill", arguments)
            return reply, tool_error(reply, words)

    @attempt("skill_name_traversal", "read_skill ../../../etc", (refused("read_skill"),))
    def _():
        reply = tool("read_skill", {"name": "../../../etc"})
        return reply, tool_error(reply, "must be one of")

    # Files planted in the skill while the run goes on: the host reads them live.
    plants = [
        ("skill_file_symlink_environ", "leak.md", lambda p: os.symlink("/proc/self/environ", p)),
        ("skill_file_symlink_shadow", "shadow.md", lambda p: os.symlink("/etc/shadow", p)),
        ("skill_folder_symlink_root", "root", lambda p: os.symlink("/", p)),
        ("skill_file_fifo", "pipe.md", os.mkfifo),
    ]
    for name, file, plant in plants:
        plant(os.path.join(folder, file))
        wanted = "root/etc/passwd" if file == "root" else file

        @attempt(name, f"read_skill {skill} {wanted}", (failed("read_skill"),))
        def _(wanted=wanted):
            reply = tool("read_skill", {"name": skill, "file": wanted})
            return reply, tool_error(reply, "refused")

    skill_md = os.path.join(folder, "SKILL.md")
    os.replace(skill_md, os.path.join(folder, "was-SKILL.md"))
    os.symlink("/etc/shadow", skill_md)

    @attempt(
        "skill_md_symlink_live",
        f"read_skill {skill}: SKILL.md -> /etc/shadow",
        (failed("read_skill"),),
    )
    def _():
        reply = tool("read_skill", {"name": skill})
        return reply, tool_error(reply, "symlink")


def socket_folder_attacks() -> None:
    folder = os.path.dirname(SOCKET)

    def refused_os(action) -> tuple[str, bool]:
        try:
            action()
        except OSError as exc:
            return f"{type(exc).__name__}: {exc.strerror}", True
        return "it worked", False

    @attempt("create_file_in_socket_folder", f"open {folder}/planted")
    def _():
        return refused_os(lambda: open(os.path.join(folder, "planted"), "x").close())

    @attempt("bind_socket_in_socket_folder", f"bind {folder}/evil.sock")
    def _():
        s = socket.socket(socket.AF_UNIX)
        try:
            return refused_os(lambda: s.bind(os.path.join(folder, "evil.sock")))
        finally:
            s.close()

    @attempt("remove_socket", f"unlink {SOCKET}")
    def _():
        reply, blocked = refused_os(lambda: os.unlink(SOCKET))
        return reply, blocked and serving()

    @attempt("replace_socket", f"rename a socket of ours over {SOCKET}")
    def _():
        fake = os.path.join(WORKSPACE, "fake.sock")
        s = socket.socket(socket.AF_UNIX)
        try:
            s.bind(fake)
            reply, blocked = refused_os(lambda: os.rename(fake, SOCKET))
        finally:
            s.close()
            if os.path.exists(fake):
                os.unlink(fake)
        return reply, blocked and serving()

    @attempt("chmod_socket", f"chmod 777 {SOCKET}")
    def _():
        return refused_os(lambda: os.chmod(SOCKET, 0o777))

    @attempt("chmod_socket_folder", f"chmod 777 {folder}")
    def _():
        return refused_os(lambda: os.chmod(folder, 0o777))

    @attempt("run_as_root", "id -u")
    def _():
        uid = subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip()
        return f"uid {uid}", uid not in ("", "0") and os.geteuid() != 0

    @attempt("become_root", "setuid(0)")
    def _():
        return refused_os(lambda: os.setuid(0))

    @attempt("capabilities", "CapEff in /proc/self/status")
    def _():
        with open("/proc/self/status") as f:
            caps = [line.split()[1] for line in f if line.startswith("CapEff")]
        return f"CapEff {caps}", caps == ["0000000000000000"]
