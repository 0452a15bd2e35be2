"""The Runtime a run gets when Ray placed it (serve's side): AgentRun needs no Ray knowledge.

On serve's own node the container is started by serve's runtime, as in local mode; the
run's placement group only holds its resources. On another node that node's agent starts
it there (core/scaling/host.py): the workspace and global memory are shipped out, the
container's socket lines are relayed to the run's socket here (core/scaling/relay.py), and
when it stops, what it changed in the workspace is brought back (core/scaling/shipping.py).

Either way the container gets what Ray reserved for it (the group's CPUs and memory, when
asked) and the GPUs of its placement group, through CDI. A node lost mid-run is an exit
like a kill (137) with one line in the logs; the pool then lets the group retry once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from pynchy_cli import protocol
from pynchy_cli.core.errors import PynchyError, UnavailableError
from pynchy_cli.core.runtimes.base import LABEL, ContainerHandle, ContainerSpec, Runtime
from pynchy_cli.core.runtimes.common import EXIT_GONE
from pynchy_cli.core.scaling import shipping
from pynchy_cli.core.scaling.host import SOCKET_TARGET
from pynchy_cli.core.scaling.relay import forward
from pynchy_cli.core.scaling.requests import ResourceRequest

log = logging.getLogger("pynchy.scaling")

CALL_SLACK = 60.0  # seconds a call to the actor may take beyond its own wait


@dataclass
class Placement:
    """Where Ray reserved one run's resources (a placement group) and who runs it there."""

    group_pg: Any  # the placement group: removing it frees the resources
    agent: Any  # the node's NodeAgent actor; None on serve's node
    node_id: str
    ip: str
    hostname: str
    on_serve_node: bool
    request: ResourceRequest
    devices: list[str] = field(default_factory=list)  # CDI names of the GPUs it holds
    lost: bool = False  # its node died while the run ran

    @property
    def label(self) -> str:
        return f"{self.node_id[:8]} ({self.ip})"


class RayRuntime:
    def __init__(
        self,
        placement: Placement,
        local: Runtime,
        *,
        loop: asyncio.AbstractEventLoop,
        ship_limit: int,
    ):
        self.placement = placement
        self.local = local
        self.name = local.name
        self.isolated = local.isolated
        self.loop = loop
        self.ship_limit = ship_limit
        self._relay: concurrent.futures.Future | None = None
        self._workspace: Path | None = None
        self._run_id = ""

    @property
    def lost_line(self) -> str:
        return f"the run's node {self.placement.label} was lost mid-run"

    def _fit(self, spec: ContainerSpec) -> ContainerSpec:
        """The container gets what Ray reserved for the run."""
        request, changes = self.placement.request, {}
        if request.cpus > 0:
            changes["cpus"] = request.cpus
        if request.memory:
            changes["memory"] = str(request.memory)
        if request.gpus > 0 and self.placement.devices:
            changes["devices"] = list(self.placement.devices)
        return replace(spec, **changes)

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        spec = self._fit(spec)
        if self.placement.on_serve_node:
            handle = self.local.start(spec)
        else:
            handle = self._start_remote(spec)
        handle.node = self.placement.node_id
        return handle

    def _start_remote(self, spec: ContainerSpec) -> ContainerHandle:
        sources = {m.target: Path(m.source) for m in spec.mounts}
        self._workspace = sources[protocol.WORKSPACE]
        workspace = shipping.pack(self._workspace, limit=self.ship_limit)
        memory = shipping.pack(sources[protocol.GLOBAL_MEMORY], limit=self.ship_limit)
        agent, self._run_id = self.placement.agent, spec.labels.get(LABEL, spec.name)
        try:
            container_id = ray.get(
                agent.start.remote(self._run_id, spec, ray.put(workspace), ray.put(memory)),
                timeout=CALL_SLACK * 5,
            )
        except RayActorError:
            self.placement.lost = True
            return ContainerHandle(spec.name, "", self.name)  # wait() answers at once
        except RayTaskError as exc:
            raise self._node_error(exc) from None
        except GetTimeoutError:
            raise UnavailableError(
                f"node {self.placement.label} did not start {spec.name} in time",
                "See `pynchy status` and the node's runtime",
            ) from None
        self._relay = asyncio.run_coroutine_threadsafe(
            forward(agent, self._run_id, sources[SOCKET_TARGET]), self.loop
        )
        return ContainerHandle(spec.name, container_id, self.name)

    def _node_error(self, exc: RayTaskError) -> PynchyError:
        cause = exc.cause
        where = f"on node {self.placement.label}"
        if isinstance(cause, PynchyError):
            return type(cause)(f"{cause.message} {where}", cause.hint)
        first = str(cause or exc).strip().splitlines()[-1][:300]
        return UnavailableError(f"the run could not start {where}: {first}")

    def wait(self, handle: ContainerHandle, timeout: float | None) -> int | None:
        if self.placement.on_serve_node:
            return self.local.wait(handle, timeout)
        if self.placement.lost or not handle.id:
            return EXIT_GONE
        wait = 1.0 if timeout is None else timeout
        try:
            call = self.placement.agent.wait.remote(self._run_id, wait)
            return ray.get(call, timeout=wait + CALL_SLACK)
        except GetTimeoutError:
            return None
        except RayError:
            self.placement.lost = True
            log.warning("node lost node=%s container=%s", self.placement.label, handle.name)
            return EXIT_GONE

    def stop(self, handle: ContainerHandle, grace: float = 5.0) -> None:
        if self.placement.on_serve_node:
            self.local.stop(handle, grace)
            return
        try:
            if not self.placement.lost:
                call = self.placement.agent.stop.remote(self._run_id, grace)
                data, deleted = ray.get(call, timeout=grace + CALL_SLACK * 2)
                if self._workspace is not None:
                    shipping.apply(self._workspace, data, deleted)
        except RayActorError:
            self.placement.lost = True
        except Exception as exc:  # the run is over either way: say what was not brought back
            log.warning("workspace changes of %s not brought back: %s", handle.name, exc)
        finally:
            if self._relay is not None:
                self._relay.cancel()

    def logs(self, handle: ContainerHandle) -> Iterator[str]:
        if self.placement.on_serve_node:
            return self.local.logs(handle)
        if not self.placement.lost:
            try:
                call = self.placement.agent.logs.remote(self._run_id)
                return iter(ray.get(call, timeout=CALL_SLACK))
            except RayActorError:
                self.placement.lost = True
            except RayError:
                return iter(())
        return iter([f"pynchy: {self.lost_line}"])

    def remove(self, handle: ContainerHandle) -> None:
        if self.placement.on_serve_node:
            self.local.remove(handle)  # elsewhere, stop() removed it on its node

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        return self.local.list_pynchy()

    def cleanup_orphans(self, keep: set[str]) -> list[str]:
        return self.local.cleanup_orphans(keep)
