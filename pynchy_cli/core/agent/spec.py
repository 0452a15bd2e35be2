"""The container a run gets: what it sees, what it may reach, what it carries."""

from __future__ import annotations

from pathlib import Path

from pynchy_cli import protocol
from pynchy_cli.core.agent.agent_user import AgentUser, refuse_unwritable_mounts
from pynchy_cli.core.agent.mounts import resolve_mounts
from pynchy_cli.core.config import Settings
from pynchy_cli.core.groups import Group
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.runtimes.base import LABEL, LABEL_GROUP, ContainerSpec, Mount
from pynchy_cli.core.runtimes.select import container_name


def container_spec(
    settings: Settings,
    paths: Paths,
    group: Group,
    run_id: str,
    token: str,
    run_dir: Path,
    user: AgentUser | None,
) -> ContainerSpec:
    """The workspace read-write, global memory read-only, the run's socket, and only the
    extra folders the allowlist permits. No credential is in the environment: only the
    run's own token, which is good for nothing but this run's socket.

    Only the socket file is mounted, not its folder: /run/pynchy is then the image's own
    root-owned folder, where the agent can neither add files nor remove or replace the
    socket. `user` is who the agent runs as (agent_user.py); None for the process runtime."""
    limits = settings.limits
    extra = resolve_mounts(paths, group.mounts)
    refuse_unwritable_mounts(extra, user)
    socket_path = f"{protocol.SOCKET_DIR}/{protocol.SOCKET_NAME}"
    return ContainerSpec(
        name=container_name(group.name, run_id),
        image=settings.image,
        command=["python3", "-m", "pynchy_agent"],
        env={
            protocol.ENV_SOCKET: socket_path,
            protocol.ENV_TOKEN: token,
            protocol.ENV_GROUP: group.name,
            protocol.ENV_RUN_ID: run_id,
            protocol.ENV_WORKSPACE: protocol.WORKSPACE,
            "HOME": "/tmp",
        },
        mounts=[
            Mount(str(group.path), protocol.WORKSPACE),
            Mount(str(paths.global_memory_dir), protocol.GLOBAL_MEMORY, read_only=True),
            Mount(str(run_dir / protocol.SOCKET_NAME), socket_path),
            *extra,
        ],
        network=group.network,
        cpus=limits.cpus,
        memory=limits.memory,
        workdir=protocol.WORKSPACE,
        labels={LABEL: run_id, LABEL_GROUP: group.name},
        user=user.spec if user else None,
    )
