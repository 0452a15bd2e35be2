"""What runs on a Ray node other than serve's: the node's agent, and the GPU probe.

A run's resources are held by a placement group (core/scaling/pool.py); no process is
started for that. On a node other than serve's, the node's NodeAgent (one actor per node,
for as long as serve runs) starts the run's container with that node's own runtime (podman
through its socket there): the workspace and the global memory shipped from serve
extracted into a private folder, the relay socket in place of serve's
(core/scaling/relay.py), the agent's user as this node sees it, and the GPUs Ray gave the
run through CDI when the node has a spec for them. When the run stops, the agent reports
what it changed in the workspace. Nothing here holds a secret: the container's only
credential is its run token, good for nothing but its own socket.

This module imports ray only inside functions that run in Ray worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent.agent_user import AgentUser, agent_user, give_tree
from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.file_modes import PRIVATE_DIR
from pynchy_cli.core.paths import resolve_paths
from pynchy_cli.core.runtimes.base import ContainerHandle, ContainerSpec, Mount, Runtime
from pynchy_cli.core.runtimes.select import get_runtime
from pynchy_cli.core.scaling.relay import PULL_WAIT, NodeRelay
from pynchy_cli.core.scaling.shipping import Signature, changes, snapshot, unpack

CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
NVIDIA_KIND = "nvidia.com/gpu"
SOCKET_TARGET = f"{protocol.SOCKET_DIR}/{protocol.SOCKET_NAME}"


@dataclass(frozen=True)
class NodeConfig:
    """What a node needs from serve's settings to run a container: never a secret."""

    runtime: str  # auto, podman, docker, process, or a plugin's runtime
    allow_process_runtime: bool
    agent_uid: int
    max_request_bytes: int
    ship_limit: int  # bytes of workspace changes a run may send back


def node_runtime(config: NodeConfig) -> tuple[Runtime, Settings]:
    """This node's runtime of the kind serve uses; its socket is found here (or set by
    PYNCHY_CONTAINER_SOCKET in the node's environment)."""
    settings = Settings(
        runtime=config.runtime,
        allow_process_runtime=config.allow_process_runtime,
        agent_uid=config.agent_uid,
    )
    return get_runtime(settings), settings


def gpu_devices(gpu_ids: list[str], folders: tuple[str, ...] = CDI_DIRS) -> list[str]:
    """CDI names of the GPUs Ray gave a run, when this machine has an NVIDIA CDI spec
    (nvidia-ctk cdi generate): each by index if the spec names them, else `all`."""
    import yaml  # PyYAML comes with ray; a CDI spec is YAML or JSON

    names: set[str] = set()
    for folder in folders:
        for path in sorted(Path(folder).glob("*")):
            if path.suffix not in (".yaml", ".yml", ".json"):
                continue
            with contextlib.suppress(OSError, yaml.YAMLError):
                spec = yaml.safe_load(path.read_text())
                if isinstance(spec, dict) and spec.get("kind") == NVIDIA_KIND:
                    names |= {str(d.get("name")) for d in spec.get("devices") or []}
    if gpu_ids and all(i in names for i in gpu_ids):
        return [f"{NVIDIA_KIND}={i}" for i in gpu_ids]
    return [f"{NVIDIA_KIND}=all"] if "all" in names else []


def list_containers(config: NodeConfig) -> list[tuple[str, str, str]]:
    """(name, run id, state) of the pynchy containers of this node's runtime."""
    return node_runtime(config)[0].list_pynchy()


def remove_runs(config: NodeConfig, run_ids: list[str]) -> list[str]:
    """Remove this node's containers of these runs, and the folders they left; the
    container names removed."""
    runtime = node_runtime(config)[0]
    keep = {run_id for _, run_id, _ in runtime.list_pynchy() if run_id not in set(run_ids)}
    removed = runtime.cleanup_orphans(keep)
    for run_id in run_ids:
        for folder in _runs_base().glob(f"{run_id}-*"):
            shutil.rmtree(folder, ignore_errors=True)
    return removed


def _runs_base() -> Path:
    return resolve_paths().data_dir / "node-runs"


def _private_run_folder(run_id: str) -> Path:
    base = _runs_base()
    base.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    return Path(tempfile.mkdtemp(prefix=f"{run_id}-", dir=base))


def _prepare(workspace: Path, memory: Path, user: AgentUser | None) -> None:
    """The workspace the agent's own, the global memory readable by it (read-only mount)."""
    if user is not None and not user.is_host_user:
        give_tree(workspace, user)
    for folder, _dirs, files in os.walk(memory):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644, follow_symlinks=False)


def relocate(mounts: list[Mount], workspace: Path, memory: Path, sock: Path) -> list[Mount]:
    """Serve's mounts as this node has them: its own copies and the relay socket."""
    places = {
        protocol.WORKSPACE: Mount(str(workspace), protocol.WORKSPACE),
        protocol.GLOBAL_MEMORY: Mount(str(memory), protocol.GLOBAL_MEMORY, read_only=True),
        SOCKET_TARGET: Mount(str(sock), SOCKET_TARGET),
    }
    unknown = [m.target for m in mounts if m.target not in places]
    if unknown:  # placement keeps groups with extra mounts on serve's machine
        raise UnavailableError(f"extra mounts {unknown} exist only on serve's machine")
    return [places[m.target] for m in mounts]


def probe_gpus() -> list[str]:
    """In a task scheduled into a run's placement group (so Ray gives it the run's GPUs):
    their CDI names on this node."""
    import ray

    return gpu_devices([str(i) for i in ray.get_gpu_ids()])


@dataclass
class HostedRun:
    runtime: Runtime
    folder: Path
    relay: NodeRelay
    before: dict[str, Signature]
    handle: ContainerHandle | None = None


class NodeAgent:
    """One node's agent (wrapped with ray.remote by the pool). Its methods are async: Ray
    runs them on one event loop, the relays', and container calls go to threads."""

    def __init__(self, config: NodeConfig):
        self.config = config
        self.runs: dict[str, HostedRun] = {}

    async def ready(self) -> dict[str, Any]:
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}

    async def start(self, run_id: str, spec: ContainerSpec, workspace: bytes, memory: bytes) -> str:
        folder = _private_run_folder(run_id)
        ws, mem = folder / "workspace", folder / "memory"
        await asyncio.to_thread(unpack, workspace, ws)
        before = await asyncio.to_thread(snapshot, ws)
        await asyncio.to_thread(unpack, memory, mem)
        runtime, settings = await asyncio.to_thread(node_runtime, self.config)
        user = agent_user(settings) if runtime.isolated else None
        await asyncio.to_thread(_prepare, ws, mem, user)
        relay = NodeRelay(folder / protocol.SOCKET_NAME, self.config.max_request_bytes)
        run = self.runs[run_id] = HostedRun(runtime, folder, relay, before)
        await relay.start()
        local = replace(
            spec,
            mounts=relocate(spec.mounts, ws, mem, relay.path),
            user=user.spec if user else None,
        )
        run.handle = await asyncio.to_thread(runtime.start, local)
        return run.handle.id

    async def wait(self, run_id: str, timeout: float) -> int | None:
        run = self.runs[run_id]
        assert run.handle is not None
        return await asyncio.to_thread(run.runtime.wait, run.handle, timeout)

    async def logs(self, run_id: str) -> list[str]:
        run = self.runs.get(run_id)
        if run is None or run.handle is None:
            return []
        runtime, handle = run.runtime, run.handle
        return (await asyncio.to_thread(lambda: list(runtime.logs(handle))))[-50:]

    async def stop(self, run_id: str, grace: float) -> tuple[bytes, list[str]]:
        """Stop and remove the run's container; then (tar of what it changed, deleted)."""
        run = self.runs.pop(run_id, None)
        if run is None:
            return b"", []
        try:
            if run.handle is not None:
                await asyncio.to_thread(run.runtime.stop, run.handle, grace)
            await run.relay.close()
            workspace, limit = run.folder / "workspace", self.config.ship_limit
            return await asyncio.to_thread(changes, workspace, run.before, limit=limit)
        finally:
            shutil.rmtree(run.folder, ignore_errors=True)

    async def pull(self, run_id: str, wait: float = PULL_WAIT) -> list[tuple[int, bytes | None]]:
        run = self.runs.get(run_id)
        if run is None:
            await asyncio.sleep(wait)
            return []
        return await run.relay.pull(wait)

    def push(self, run_id: str, conn: int, reply: bytes) -> None:
        run = self.runs.get(run_id)
        if run is not None:
            run.relay.push(conn, reply)

    async def list_containers(self) -> list[tuple[str, str, str]]:
        return await asyncio.to_thread(list_containers, self.config)

    async def remove_runs(self, run_ids: list[str]) -> list[str]:
        return await asyncio.to_thread(remove_runs, self.config, run_ids)
