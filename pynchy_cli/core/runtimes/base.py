"""What a container runtime does for pynchy, whichever engine is behind it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

LABEL = "pynchy.run"  # every container pynchy starts carries this label (value: run id)
LABEL_GROUP = "pynchy.group"


@dataclass(frozen=True)
class Mount:
    source: str  # host path (already resolved and allowed): a folder, or the socket file
    target: str  # path inside the container
    read_only: bool = False


@dataclass
class ContainerSpec:
    name: str  # pynchy-<group>-<run>
    image: str
    command: list[str]
    env: dict[str, str]
    mounts: list[Mount]
    network: bool = False  # False: --network none
    cpus: float = 1.0
    memory: str = "1g"
    workdir: str = "/workspace"
    labels: dict[str, str] = field(default_factory=dict)
    # host uid:gid the agent runs as (a rootless engine maps it); None: the image's user
    user: str | None = None
    # devices by CDI name (nvidia.com/gpu=all): the GPUs Ray gave the run (podman)
    devices: list[str] = field(default_factory=list)


@dataclass
class ContainerHandle:
    name: str
    id: str
    runtime: str
    pid: int | None = None  # process runtime only
    node: str | None = None  # the Ray node it runs on (scaling = "ray")


class Runtime(Protocol):
    """A container engine. Calls block; the host runs them in threads."""

    name: str  # podman | docker | process
    isolated: bool  # False only for the process runtime

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        """Create and start the container detached. Raise UnavailableError with a hint."""

    def wait(self, handle: ContainerHandle, timeout: float | None) -> int | None:
        """Exit code, or None if still running after timeout seconds."""

    def stop(self, handle: ContainerHandle, grace: float = 5.0) -> None:
        """Stop (then kill) and remove the container. Idempotent."""

    def logs(self, handle: ContainerHandle) -> Iterator[str]:
        """Lines the container wrote to stdout/stderr so far (then follows until exit)."""

    def remove(self, handle: ContainerHandle) -> None:
        """Remove a stopped container (idempotent)."""

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        """(name, run id label, state) of every container carrying the pynchy label."""

    def cleanup_orphans(self, keep: set[str]) -> list[str]:
        """Remove pynchy containers whose run id is not in `keep`; return their names."""
