"""The slot pool's counterpart when scaling is `ray` (core/serve/slots.py is the local one).

A run's slot is a placement group of one bundle: the group's CPUs, memory, GPUs and custom
resources, on a node with its labels. While they are taken, the placement group waits in
Ray's queue (the blocking queue; messages keep being stored, and the run answers them once
placed). No process is started for it: on serve's node serve's runtime runs the container,
elsewhere that node's agent does (one NodeAgent actor per node, made when the node is first
seen). A request no alive node could ever hold is refused at once with one line, and again
if the node it waits for dies. Groups with extra mounts, and workspaces too large to ship,
run on serve's node only. While a run waits for resources that are not free anywhere, warm
containers are asked to give theirs back, as the local pool does. Removing the placement
group when the run ends frees its resources.

A run whose node was lost may run once more (retry): the group's cursor only moved for
replies that were delivered, so the next run answers exactly what is still unanswered.
Containers a lost node left behind are removed when a node (re)joins: its new agent lists
the node's containers and removes those of this database's finished runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import ray
from ray.util.placement_group import (
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from ray.util.scheduling_strategies import (
    NodeAffinitySchedulingStrategy,
    PlacementGroupSchedulingStrategy,
)

from pynchy_cli.core.agent import store
from pynchy_cli.core.context import Context
from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.groups import Group
from pynchy_cli.core.runtimes.base import Runtime
from pynchy_cli.core.runtimes.select import get_runtime
from pynchy_cli.core.scaling import host
from pynchy_cli.core.scaling.cluster import NODE_HINT, Cluster
from pynchy_cli.core.scaling.requests import ResourceRequest, request_for
from pynchy_cli.core.scaling.runtime import Placement, RayRuntime

log = logging.getLogger("pynchy.scaling")

GiveBack = Callable[[], None]
CHECK_EVERY = 1.0  # seconds between checks of a waiting run (infeasible now? reclaim?)
WATCH_EVERY = 2.0  # seconds between reads of the cluster's nodes
NODE_LABEL = "ray.io/node-id"  # every node carries its id as a label
SOME_CPU = 0.01  # a bundle asks for something: a group asking for nothing gets this
PLACE_TRIES = 3  # a run whose node died while it was being placed is placed again


class Refused(Exception):
    """No node can hold the run."""


class RayPool:
    def __init__(self, ctx: Context, *, runtime: str | None, address: str | None):
        self.ctx = ctx
        self.settings = ctx.settings
        self.runtime_kind = runtime or self.settings.runtime
        self.cluster = Cluster(ctx.paths, address)
        self.ship_limit = self.settings.ray.max_workspace_mb << 20
        self.node_config = host.NodeConfig(
            runtime=self.runtime_kind,
            allow_process_runtime=self.settings.allow_process_runtime,
            agent_uid=self.settings.agent_uid,
            max_request_bytes=self.settings.limits.max_request_bytes,
            ship_limit=self.ship_limit,
        )
        self.placements: dict[int, Placement] = {}
        self.waiting: dict[int, dict[str, Any]] = {}
        self._refused: dict[int, UnavailableError] = {}
        self._holders: dict[object, GiveBack] = {}
        self._asked: set[object] = set()
        self._lost: dict[int, bool] = {}
        self._retried: set[int] = set()
        self.agents: dict[str, Any] = {}  # node id -> its NodeAgent
        self._agent_class: Any = None
        self._watcher: asyncio.Task | None = None

    @property
    def in_use(self) -> int:
        return len(self._holders)

    async def start(self) -> None:
        await asyncio.to_thread(self.cluster.connect)
        self._agent_class = ray.remote(host.NodeAgent)
        self._watcher = asyncio.create_task(self._watch(), name="ray-nodes")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        await asyncio.to_thread(self.cluster.close)

    # --- one run's slot -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def slot(self, group: Group, give_back: GiveBack) -> AsyncIterator[None]:
        """Wait until Ray placed the run (or refused it: runtime_for then raises why)."""
        placement, refusal = await self._placement(group)
        token = object()
        if placement is None:
            self._refused[group.id] = UnavailableError(refusal or "not placed", NODE_HINT)
        else:
            self.placements[group.id] = placement
            self._holders[token] = give_back
        try:
            yield
        finally:
            self._holders.pop(token, None)
            self._asked.discard(token)
            self._refused.pop(group.id, None)
            done = self.placements.pop(group.id, None)
            if done is not None:
                self._lost[group.id] = done.lost
                if not done.lost:
                    self._retried.discard(group.id)
                with contextlib.suppress(Exception):
                    remove_placement_group(done.group_pg)  # frees the run's resources

    async def _placement(self, group: Group) -> tuple[Placement | None, str | None]:
        """(the run's placement, None) or (None, why not): never raises, so the group's
        worker always gets to tell the person."""
        try:
            request = request_for(group.resources, self.settings.ray)
            pinned = await asyncio.to_thread(self._pinned, group)
            refusal = await self._refusal(request, pinned)
        except Exception as exc:  # the cluster did not answer
            return None, f"the Ray cluster did not answer ({type(exc).__name__}: {exc})"
        for attempt in range(PLACE_TRIES if refusal is None else 0):
            try:
                return await self._place(group, request, pinned), None
            except Refused as exc:
                return None, str(exc)
            except Exception as exc:  # its node died as it was placed: place it again
                log.warning("placing group=%s failed attempt=%d: %s", group.name, attempt, exc)
                refusal = f"this group's run could not be placed ({type(exc).__name__})"
        return None, refusal

    def _pinned(self, group: Group) -> bool:
        """Extra mounts exist only on serve's machine; a large workspace is not shipped."""
        return bool(group.mounts) or _larger_than(group.path, self.ship_limit)

    async def _place(self, group: Group, request: ResourceRequest, pinned: bool) -> Placement:
        bundle = request.amounts() or {"CPU": SOME_CPU}
        labels = dict(request.labels)
        if pinned:
            labels[NODE_LABEL] = self.cluster.serve_node or ""
        pg = placement_group([bundle], bundle_label_selector=[labels] if labels else None)
        asks = request.describe()
        self.waiting[group.id] = {"group": group.name, "asks": asks, "since": utcnow()}
        try:
            await self._ready(pg, request, pinned)
            node_id = placement_group_table(pg)["bundles_to_node_id"][0]
            devices: list[str] = []
            if request.gpus > 0:  # which GPUs the bundle holds: asked of a task inside it
                inside = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=0)
                probe = ray.remote(host.probe_gpus).options(
                    num_cpus=0, num_gpus=request.gpus, scheduling_strategy=inside
                )
                devices = await probe.remote()
            on_serve_node = node_id == self.cluster.serve_node
            agent = None if on_serve_node else await self._agent(node_id)
        except BaseException:
            with contextlib.suppress(Exception):
                remove_placement_group(pg)
            raise
        finally:
            self.waiting.pop(group.id, None)
        node = next((n for n in self.cluster.nodes if n.id == node_id), None)
        return Placement(
            group_pg=pg,
            agent=agent,
            node_id=node_id,
            ip=node.ip if node else "",
            hostname=node.hostname if node else "",
            on_serve_node=on_serve_node,
            request=request,
            devices=devices,
        )

    async def _ready(self, pg: Any, request: ResourceRequest, pinned: bool) -> None:
        ready = asyncio.wrap_future(pg.ready().future())
        while True:
            done, _ = await asyncio.wait({ready}, timeout=CHECK_EVERY)
            if done:
                ready.result()
                return
            refusal = await self._refusal(request, pinned)
            if refusal is not None:  # the node it waited for is gone
                raise Refused(refusal)
            if not self.cluster.fits_now(request, serve_node_only=pinned):
                self.reclaim_warm()

    async def _agent(self, node_id: str) -> Any:
        """The node's agent, made (and waited for) the first time it is needed."""
        agent = self.agents.get(node_id)
        if agent is None:
            agent = self._agent_class.options(
                num_cpus=0,
                max_restarts=0,
                max_concurrency=1000,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(self.node_config)
            self.agents[node_id] = agent
        try:
            await agent.ready.remote()
        except Exception:
            self.agents.pop(node_id, None)
            raise
        return agent

    async def _refusal(self, request: ResourceRequest, pinned: bool) -> str | None:
        """Why no node could ever hold the request; asked again of a fresh view of the
        nodes before a refusal (a node may have joined since the last read)."""
        if self.cluster.refusal(request, serve_node_only=pinned) is None:
            return None
        await asyncio.to_thread(self.cluster.refresh)
        return self.cluster.refusal(request, serve_node_only=pinned)

    def reclaim_warm(self) -> None:
        """Ask each holder (once) to give its slot back once its run has answered."""
        for token, give_back in list(self._holders.items()):
            if token not in self._asked:
                self._asked.add(token)
                give_back()

    def runtime_for(self, group: Group) -> Runtime | None:
        """The runtime of the group's placed run; raises the refusal of one never placed."""
        refused = self._refused.get(group.id)
        if refused is not None:
            raise refused
        placement = self.placements.get(group.id)
        if placement is None:
            return None
        return RayRuntime(
            placement,
            get_runtime(self.settings, self.runtime_kind),
            loop=asyncio.get_running_loop(),
            ship_limit=self.ship_limit,
        )

    def retry(self, group: Group) -> bool:
        """Whether the group's last run lost its node and may run once more."""
        if not self._lost.pop(group.id, False) or group.id in self._retried:
            self._retried.discard(group.id)
            return False
        self._retried.add(group.id)
        log.info("retrying group=%s: its node was lost", group.name)
        return True

    # --- the cluster ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "scaling": "ray",
            "address": self.cluster.address or "embedded",
            "serve_node": self.cluster.serve_node,
            "nodes": [node.public() for node in self.cluster.nodes],
            "waiting": list(self.waiting.values()),
            "placed": [
                {"group_id": gid, "node": p.node_id, "ip": p.ip}
                for gid, p in self.placements.items()
            ],
        }

    async def _watch(self) -> None:
        """Keep the nodes' view fresh; sweep each node the first time it is seen."""
        seen: set[str] = set()
        while True:
            try:
                nodes = await asyncio.to_thread(self.cluster.refresh)
                for node in nodes:
                    if not node.alive:
                        self.agents.pop(node.id, None)
                    elif node.id not in seen and not node.serve_node:
                        await self._sweep(node.id)
                seen |= {node.id for node in nodes if node.alive}
            except Exception as exc:  # the GCS restarting: try again next time
                log.warning("reading the ray nodes failed: %s", exc)
            await asyncio.sleep(WATCH_EVERY)

    async def _sweep(self, node_id: str) -> None:
        """Start the node's agent; remove the node's containers of finished runs."""
        try:
            agent = await self._agent(node_id)
            found = await agent.list_containers.remote()
            done = self._finished([run_id for _, run_id, _ in found])
            if done:
                removed = await agent.remove_runs.remote(done)
                log.info("removed orphan containers node=%s names=%s", node_id[:8], removed)
        except Exception as exc:  # a node without a usable runtime: nothing to sweep there
            log.warning("sweeping node=%s failed: %s", node_id[:8], exc)

    def _finished(self, run_ids: list[str]) -> list[str]:
        if not run_ids:
            return []
        marks = ",".join("?" for _ in run_ids)
        finished = ",".join("?" for _ in store.FINISHED)
        rows = self.ctx.db.query(
            f"select id from runs where id in ({marks}) and status in ({finished})",
            [*run_ids, *store.FINISHED],
        )
        return [row["id"] for row in rows]


def _larger_than(folder: Any, limit: int) -> bool:
    """Whether the regular files under `folder` hold more than `limit` bytes (links not
    followed; stops counting once past it)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
            if total > limit:
                return True
    return False
