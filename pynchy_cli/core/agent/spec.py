"""The container a run gets: what it sees, what it may reach, what it carries."""

from __future__ import annotations

import os
from pathlib import Path

from pynchy_cli import protocol
from pynchy_cli.core.agent.mounts import resolve_mounts
from pynchy_cli.core.config import Settings
from pynchy_cli.core.groups import Group
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.runtimes.base import LABEL, LABEL_GROUP, ContainerSpec, Mount
from pynchy_cli.core.runtimes.select import container_name


def container_spec(
    settings: Settings, paths: Paths, group: Group, run_id: str, token: str, run_dir: Path
) -> ContainerSpec:
    """The workspace read-write, global memory read-only, the run's socket folder, and only
    the extra folders the allowlist permits. No credential is in the environment: only
    the run's own token, which is good for nothing but this run's socket."""
    limits = settings.limits
    return ContainerSpec(
        name=container_name(group.name, run_id),
        image=settings.image,
        command=["python3", "-m", "pynchy_agent"],
        env={
            protocol.ENV_SOCKET: f"{protocol.SOCKET_DIR}/{protocol.SOCKET_NAME}",
            protocol.ENV_TOKEN: token,
            protocol.ENV_GROUP: group.name,
            protocol.ENV_RUN_ID: run_id,
            protocol.ENV_WORKSPACE: protocol.WORKSPACE,
            "HOME": "/tmp",
        },
        mounts=[
            Mount(str(group.path), protocol.WORKSPACE),
            Mount(str(paths.global_memory_dir), protocol.GLOBAL_MEMORY, read_only=True),
            Mount(str(run_dir), protocol.SOCKET_DIR),
            *resolve_mounts(paths, group.mounts),
        ],
        network=group.network,
        cpus=limits.cpus,
        memory=limits.memory,
        workdir=protocol.WORKSPACE,
        labels={LABEL: run_id, LABEL_GROUP: group.name},
        user=f"{os.getuid()}:{os.getgid()}",
    )
