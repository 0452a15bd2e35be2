"""Templates: each kind's plugin module, and the extra files some kinds have."""

# ruff: noqa: E501

MODULE = {
    "runtime": '''\
"""$dist: a pynchy runtime that drives a Docker-compatible container CLI.

Each agent container starts with `EXECUTABLE run --detach ...`, confined: no network unless
the group has it, all capabilities dropped, no new privileges, an init, cpu and memory
limits. The executable is nerdctl unless config.toml says otherwise:

    [plugin.$name]
    executable = "nerdctl"

Use it with `pynchy agent run --runtime $name` or `runtime = "$name"` in config.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from pynchy_cli import ContainerHandle, ContainerSpec, UnavailableError, hookimpl

LABEL = "pynchy.run"  # every container pynchy starts carries this label (its run id)
DONE = ("exited", "stopped", "dead")
GONE = 137  # wait() on a container someone else removed: reported as killed


class ${cls}Runtime:
    name = "$name"
    isolated = True

    def __init__(self, executable: str = "nerdctl") -> None:
        self.executable = executable

    def run_argv(self, spec: ContainerSpec) -> list[str]:
        """The command line that starts `spec` detached."""
        argv = [self.executable, "run", "--detach", "--name", spec.name]
        argv += ["--workdir", spec.workdir, "--cpus", str(spec.cpus), "--memory", spec.memory]
        argv += ["--security-opt", "no-new-privileges", "--cap-drop", "ALL", "--init"]
        if not spec.network:
            argv += ["--network", "none"]
        if spec.user:
            argv += ["--user", spec.user]
        for key, value in {LABEL: spec.name, **spec.labels}.items():
            argv += ["--label", f"{key}={value}"]
        for key, value in spec.env.items():
            argv += ["--env", f"{key}={value}"]
        for mount in spec.mounts:
            suffix = ":ro" if mount.read_only else ""
            argv += ["--volume", f"{mount.source}:{mount.target}{suffix}"]
        return [*argv, spec.image, *spec.command]

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if shutil.which(self.executable) is None:
            raise UnavailableError(
                f"{self.executable} is not installed",
                "Install it, or set executable in [plugin.$name] in config.toml",
            )
        done = subprocess.run([self.executable, *args], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise UnavailableError(
                f"{self.executable} {args[0]} failed: {done.stderr.strip()[:300]}",
                f"Check that {self.executable} works: {self.executable} info",
            )
        return done

    # --- the Runtime protocol (calls block; pynchy runs them in threads) --------------

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        done = self._run(*self.run_argv(spec)[1:])
        container_id = done.stdout.strip() or spec.name
        return ContainerHandle(name=spec.name, id=container_id, runtime=self.name)

    def wait(self, handle: ContainerHandle, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            fmt = "{{.State.Status}} {{.State.ExitCode}}"
            done = self._run("inspect", "--format", fmt, handle.name, check=False)
            if done.returncode != 0:
                return GONE
            status, _, code = done.stdout.strip().partition(" ")
            if status in DONE:
                return int(code or 0)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def stop(self, handle: ContainerHandle, grace: float = 5.0) -> None:
        self._run("stop", "--time", str(max(int(grace), 0)), handle.name, check=False)
        self.remove(handle)

    def logs(self, handle: ContainerHandle) -> Iterator[str]:
        done = self._run("logs", handle.name, check=False)
        return iter((done.stdout + done.stderr).splitlines())

    def remove(self, handle: ContainerHandle) -> None:
        self._run("rm", "--force", handle.name, check=False)

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        fmt = "{{.Names}}"
        done = self._run("ps", "--all", "--filter", f"label={LABEL}", "--format", fmt, check=False)
        found = []
        for name in done.stdout.split():
            fmt = '{{index .Config.Labels "pynchy.run"}} {{.State.Status}}'
            info = self._run("inspect", "--format", fmt, name, check=False)
            run_id, _, state = info.stdout.strip().partition(" ")
            found.append((name, run_id, state))
        return found

    def cleanup_orphans(self, keep: set[str]) -> list[str]:
        removed = []
        for name, run_id, _state in self.list_pynchy():
            if run_id not in keep:
                self._run("rm", "--force", name, check=False)
                removed.append(name)
        return removed


def make_runtime(settings: Any) -> ${cls}Runtime:
    conf = settings.plugin.get("$name", {}) if settings is not None else {}
    return ${cls}Runtime(conf.get("executable", "nerdctl"))


@hookimpl
def pynchy_runtimes(register):
    register("$name", make_runtime)
''',
    "channel": '''\
"""$dist: a pynchy channel.

Connect to your chat platform in start() and hand each message it receives to deliver();
send() delivers replies. Credentials stay on the host: ${env}_TOKEN, or in config.toml

    [plugin.$name]
    token = "..."

Map a chat to a group with: pynchy groups add family --channel $name --chat CHAT_ID
pynchy_cli exports helpers for real platforms: split_text (a platform's length limit),
TypingKeeper, Backoff, TokenRedactor, SentRecord (what was posted), GroupFinder.
"""

from __future__ import annotations

import os
from typing import Any

from pynchy_cli import (
    ChannelHost,
    Group,
    Problem,
    RegisterChannel,
    Settings,
    hookimpl,
)


class ${cls}Channel:
    name = "$name"

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.host: ChannelHost | None = None
        self.outbox: list[dict[str, Any]] = []  # what send() delivered: call your platform here
        self.typing_chats: set[str] = set()

    async def start(self, host: ChannelHost) -> None:
        self.host = host  # connect to the platform here; call deliver() for each message

    async def deliver(
        self, chat_id: str, sender: str, text: str, platform_id: str | None = None
    ) -> bool:
        """A message arrived: store and route it. True if a group's agent will answer.
        pynchy stores a message once per platform_id, so a redelivery is harmless."""
        if self.host is None:
            raise RuntimeError("the channel is not started")
        group = self.host.group_for_chat(self.name, chat_id)
        if group is None:
            return False  # no group is mapped to this chat
        _message, queued = await self.host.receive(
            group, sender, text, channel=self.name, platform_id=platform_id
        )
        return queued

    async def send(self, group: Group, text: str, *, key: str, kind: str) -> None:
        if any(sent["key"] == key for sent in self.outbox):
            return  # a retry of a reply already delivered
        self.outbox.append({"key": key, "chat_id": group.chat_id, "kind": kind, "text": text})

    async def typing(self, group: Group, active: bool) -> None:
        if active:
            self.typing_chats.add(group.chat_id or "")
        else:
            self.typing_chats.discard(group.chat_id or "")

    async def stop(self) -> None:
        self.host = None


def token_of(settings: Settings | None) -> str | None:
    conf = settings.plugin.get("$name", {}) if settings is not None else {}
    return os.environ.get("${env}_TOKEN") or conf.get("token")


def make_channel(settings: Settings) -> ${cls}Channel:
    return ${cls}Channel(token_of(settings))


@hookimpl
def pynchy_channels(register: RegisterChannel) -> None:
    register("$name", make_channel)


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    """What `pynchy doctor` shows for this channel: offline checks of its settings."""
    if token_of(settings):
        return []
    fix = "Set ${env}_TOKEN, or token in [plugin.$name] of config.toml"
    return [Problem("$name", "$name: no token", fix)]
''',
    "agent_core": '''\
"""$dist: a pynchy agent core, the host side of a model provider.

Use it with `pynchy agent run --model $name:MODEL "..."` or model = "$name:MODEL" in
config.toml. This core answers deterministically and offline; replace complete() with a
call to your provider. The host keeps the credentials: read them in make_core from the
environment or from [plugin.$name]; they never reach a container.
"""

from __future__ import annotations

from typing import Any

from pynchy_cli import ModelResult, Usage, hookimpl


class ${cls}Core:
    provider = "$name"

    def __init__(self, model: str = "") -> None:
        self.model = model or "default"

    async def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResult:
        """One model turn: neutral content blocks (text, thinking, tool_use) and a stop
        reason (end_turn, tool_use, max_tokens). Raise UnavailableError when it fails."""
        heard = last_user_text(messages)
        answer = f"$name ({self.model}) heard: {heard}"
        usage = Usage(input_tokens=max(len(heard.split()), 1), output_tokens=len(answer.split()))
        return ModelResult(
            content=[{"type": "text", "text": answer}],
            stop_reason="end_turn",
            usage=usage,
            model=self.model,
        )

    async def aclose(self) -> None:
        return None


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content", "")
        if isinstance(content, str):
            return content
        texts = [block.get("text", "") for block in content if block.get("type") == "text"]
        if texts:
            return texts[-1]
    return ""


def make_core(choice: Any, settings: Any) -> ${cls}Core:
    """choice.name is MODEL in --model $name:MODEL (empty for a bare $name)."""
    return ${cls}Core(choice.name)


@hookimpl
def pynchy_agent_cores(register):
    register("$name", make_core)
''',
    "mcp": '''\
"""$dist: an MCP server that pynchy runs on the host for its agents.

Agents see its tools as mcp__${name}__TOOL. A [mcp.$name] table in config.toml replaces
this declaration (to limit it to some groups, say); the server itself is server.py.
"""

from __future__ import annotations

import sys

from pynchy_cli import McpServer, hookimpl


def server() -> McpServer:
    return McpServer(
        "$name",
        command=[sys.executable, "-m", "$module.server"],
        risk="read",  # read | write | external | destructive
        description="Counts words (an example tool).",
    )


@hookimpl
def pynchy_mcp_servers(register):
    register(server())
''',
    "skill": '''\
"""$dist: a skill for pynchy's agents.

The skill is the folder skills/$name/ (its SKILL.md starts with name and description).
Agents see the name and description in their system prompt and read the rest with the
read_skill tool when a task calls for it.
"""

from __future__ import annotations

from pathlib import Path

from pynchy_cli import hookimpl

SKILLS = Path(__file__).parent / "skills"


@hookimpl
def pynchy_skills(register):
    register(SKILLS / "$name")
''',
    "hook": '''\
"""$dist: lifecycle hooks around pynchy's agent runs.

pynchy_before_tool refuses bash commands that contain a blocked pattern; the patterns
come from config.toml:

    [plugin.$name]
    blocked = ["rm -rf /", "mkfs"]

A hook that raises is reported and skipped; it never stops pynchy.
"""

from __future__ import annotations

import logging
from typing import Any

from pynchy_cli import hookimpl

log = logging.getLogger("pynchy.plugins.$name")
BLOCKED = ["rm -rf /", "mkfs", ":(){"]


def blocked_patterns(run: Any) -> list[str]:
    return list(run.settings.plugin.get("$name", {}).get("blocked", BLOCKED))


@hookimpl
def pynchy_before_run(run):
    """Return a reason to refuse the run, or None."""
    return None


@hookimpl
def pynchy_before_tool(run, tool, arguments):
    """None allows the call, a dict replaces its arguments, a str refuses it."""
    if tool == "bash":
        command = str(arguments.get("command", ""))
        for pattern in blocked_patterns(run):
            if pattern in command:
                return f"commands containing {pattern!r} are not allowed"
    return None


@hookimpl
def pynchy_after_run(run, outcome):
    log.info("run %s in %s ended: %s", run.run_id, run.group, outcome.status)
''',
    "commands": '''\
"""$dist: commands added to the pynchy CLI (`pynchy $name ...`)."""

from __future__ import annotations

import typer
from pynchy_cli import hookimpl

cli = typer.Typer(no_args_is_help=True, help="$summary")


@cli.command()
def hello(who: str = typer.Argument("world", help="Whom to greet.")) -> None:
    """Say hello."""
    typer.echo(f"hello {who}, from $name")


@hookimpl
def pynchy_commands(app):
    """`app` is pynchy's root Typer app."""
    app.add_typer(cli, name="$name")
''',
}

EXTRA_FILES = {
    "mcp": {
        "MODULE/server.py": '''\
"""The MCP server of $dist, over stdio. pynchy runs it on the host as

    python -m $module.server

and lists its tools to the agents of the groups allowed to use it.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("$name", instructions="Tools from the $dist plugin.")


@mcp.tool()
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


if __name__ == "__main__":
    mcp.run()
''',
    },
    "skill": {
        "MODULE/skills/NAME/SKILL.md": """\
---
name: $name
description: One line that tells the agent when to read this skill.
---
# $name

Steps, conventions and examples the agent follows when a task calls for this skill.
Other files in this folder can be read with read_skill too.
""",
    },
}
