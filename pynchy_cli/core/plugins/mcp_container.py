"""How an MCP server is started: on the host, or in its own container (`container = true`).

A container server runs like an agent's container: all capabilities dropped, no new
privileges, an init as PID 1, the configured cpu and memory limits, as the agent's user
(core.agent.agent_user), `--network none` unless both its table (`network = true`) and the
group's security profile grant one, and the group's workspace mounted read-write at the
path the agent sees, /workspace (a shareable server gets no workspace). Its `env` reaches
that container alone: each name is passed as `-e NAME`, whose value the engine's command
line takes from its own environment, so no value is ever on a command line.

The host speaks MCP to it over stdio. podman-py cannot attach to a container's stdin
(API-NOTES), so the MCP client's stdio command is the engine's own command line,
`podman --remote --url SOCKET run -i --rm ... IMAGE COMMAND`, pointed at the socket the
runtime uses (core.runtimes.engine_cli): the SDK's stdio client writes requests to its
stdin and reads answers from its stdout, exactly as with a host process, and closing its
stdin (the SDK's shutdown) ends the server and so the container. `rm -f` afterwards makes
sure it is gone even when the server ignored the end of its input.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent.agent_user import agent_user, hand_over
from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.plugins.mcp import McpServer
from pynchy_cli.core.runtimes.base import LABEL_GROUP
from pynchy_cli.core.runtimes.detect import EngineSocket, find_engine
from pynchy_cli.core.runtimes.engine_cli import engine_command

CONTAINER_LABEL = "pynchy.mcp"  # every MCP server container carries it (value: server name)
IMAGE_HINT = (
    "Build it, or set image in [mcp.{name}] to one that is built here (podman images);"
    " see docs/mcp-skills-hooks.md"
)


@dataclass(frozen=True)
class McpPlace:
    """Where a run's MCP servers work: its group, the group's folder on the host, and
    whether the group's security profile allows a network."""

    group: str
    workspace: Path
    settings: Any
    paths: Any
    network: bool = False


@dataclass
class Launch:
    """The process the MCP client starts (stdio) and what to clean up after it."""

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    container: str | None = None  # the container's name, removed when the server stops
    engine: EngineSocket | None = None

    def cleanup(self) -> None:
        """Remove its container if it is still there (blocking; idempotent)."""
        if self.container and self.engine:
            remove_container(self.engine, self.container)


def launch_for(server: McpServer, place: McpPlace | None, settings: Any = None) -> Launch:
    """How to start this server for this place (None: no group, as `pynchy doctor` does).
    Blocking: a container server asks the engine about its image and hands the workspace
    to the agent's user. UnavailableError with a hint when it cannot start."""
    assert server.command is not None  # url servers are not launched
    if server.container:
        return _container_launch(server, place, settings or (place and place.settings))
    # Never the workspace as its working folder, even with map_paths: `python -m` would
    # import what the agent wrote there (mcp_paths makes relative paths absolute).
    return Launch(list(server.command), dict(server.env), server.cwd)


def _container_launch(server: McpServer, place: McpPlace | None, settings: Any) -> Launch:
    from pynchy_cli.core.runtimes.engine_images import image_exists

    engine = _engine(settings)
    image = server.image or settings.image
    if not image_exists(engine, image):
        raise UnavailableError(f"image {image} is not built", IMAGE_HINT.format(name=server.name))
    user = agent_user(settings)
    group = None if server.shareable or place is None else place.group
    name = container_name(server.name, group)
    argv = [
        *engine_command(engine),
        "run", "-i", "--rm", "--pull", "never", "--init", "--name", name,
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--cpus", f"{settings.limits.cpus:g}", "--memory", settings.limits.memory,
        "--label", f"{CONTAINER_LABEL}={server.name}",
        "--user", user.spec, "--env", "HOME=/tmp",
        # Its working folder is the agent's: Python must not import modules from it.
        "--env", "PYTHONSAFEPATH=1",
    ]  # fmt: skip
    if group is not None:
        argv += ["--label", f"{LABEL_GROUP}={group}"]
    if engine.kind == "podman" and _rootless(engine):
        argv += ["--userns", "keep-id"]  # the host uid is the same uid inside
    if not (server.network and (place is None or place.network)):
        argv += ["--network", "none"]  # McpHost warns when the profile took it away
    if group is not None:
        assert place is not None
        folder = Path(os.path.realpath(place.workspace))
        if "," in str(folder):
            raise UnavailableError(
                f"the workspace {folder} has a comma in its path, which a mount cannot take",
                "Move the group to a folder without one",
            )
        folder.mkdir(parents=True, exist_ok=True)
        hand_over(user, folder, place.paths)  # the server writes as the agent does
        argv += [
            "--mount", f"type=bind,source={folder},target={protocol.WORKSPACE}",
            "--workdir", protocol.WORKSPACE,
        ]  # fmt: skip
    for key in server.env:
        argv += ["--env", key]  # the value comes from the engine command's environment
    argv += [image, *server.command]
    return Launch(argv, dict(server.env), container=name, engine=engine)


def container_name(server: str, group: str | None) -> str:
    """pynchy-mcp-SERVER-GROUP-RANDOM ('shared' for a shareable server): unique, since
    two pynchy processes may each start one."""
    raw = f"pynchy-mcp-{server}-{group or 'shared'}-{secrets.token_hex(3)}"
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", raw)


def _engine(settings: Any) -> EngineSocket:
    kind = settings.runtime if settings.runtime in ("podman", "docker") else "auto"
    return find_engine(settings.container_socket, kind)


def _rootless(engine: EngineSocket) -> bool:
    if os.geteuid() == 0:
        return False
    from pynchy_cli.core.runtimes.podman import PodmanRuntime

    return PodmanRuntime(engine).rootless


def remove_container(engine: EngineSocket, name: str) -> None:
    now = ["--time", "0"] if engine.kind == "podman" else []  # docker rm -f kills at once
    # If this fails, --rm removes it once the server ends: nothing more to do here.
    with contextlib.suppress(OSError, subprocess.TimeoutExpired, UnavailableError):
        subprocess.run(
            [*engine_command(engine), "rm", "-f", *now, name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
