"""Serve's connection to Ray, and what it knows of the cluster's nodes.

Without an address serve starts an embedded single-node Ray sized to this machine, on
loopback only. With one (`--ray-address`, [ray] address) it joins that cluster as a driver;
serve must run on one of its nodes (Ray drivers attach to their machine's node). Every node
and driver uses token auth (core/scaling/auth.py).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

import ray

from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.scaling.requests import ResourceRequest

log = logging.getLogger("pynchy.scaling")

NODE_HINT = "See the nodes with: pynchy status"
# Ray's per-node markers (node:IP, node:__internal_head__): not worth showing.
HIDDEN = ("node:", "object_store_memory")


@dataclass
class NodeView:
    id: str
    ip: str
    hostname: str
    alive: bool
    serve_node: bool
    total: dict[str, float] = field(default_factory=dict)
    free: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        def shown(resources: dict[str, float]) -> dict[str, float]:
            return {k: v for k, v in sorted(resources.items()) if not k.startswith(HIDDEN)}

        return {
            "id": self.id,
            "ip": self.ip,
            "hostname": self.hostname,
            "alive": self.alive,
            "serve_node": self.serve_node,
            "total": shown(self.total),
            "free": shown(self.free),
            "labels": {k: v for k, v in self.labels.items() if not k.startswith("ray.io/")},
        }


class Cluster:
    def __init__(self, paths: Paths, address: str | None):
        self.paths = paths
        self.address = address
        self.serve_node: str | None = None
        self.nodes: list[NodeView] = []

    def connect(self) -> None:
        """Start the embedded Ray or join the cluster (blocking: seconds). Its environment
        was set before ray was imported (core/scaling/auth.py:prepare_driver)."""
        options: dict[str, Any] = {
            "namespace": "pynchy",
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        try:
            if self.address:
                _reachable(self.address)
                ray.init(address=self.address, **options)
            else:
                # "local": a new Ray of its own, even if `ray start` runs on this machine
                ray.init(
                    address="local",
                    num_cpus=os.cpu_count() or 1,
                    include_dashboard=False,
                    **options,
                )
        except UnavailableError:
            raise
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            where = f"join the Ray cluster at {self.address}" if self.address else "start Ray"
            raise UnavailableError(
                f"cannot {where}: {first}",
                "Check the address and the token (docs/scaling.md)",
            ) from exc
        self.serve_node = ray.get_runtime_context().get_node_id()
        self.refresh()
        log.info(
            "ray connected address=%s serve_node=%s nodes=%d",
            self.address or "embedded",
            self.serve_node,
            len(self.nodes),
        )

    def refresh(self) -> list[NodeView]:
        """Read the nodes again (blocking: a few GCS calls)."""
        free = _free_per_node()
        nodes = []
        for node in ray.nodes():
            node_id = node["NodeID"]
            nodes.append(
                NodeView(
                    id=node_id,
                    ip=node.get("NodeManagerAddress", ""),
                    hostname=node.get("NodeManagerHostname", ""),
                    alive=bool(node.get("Alive")),
                    serve_node=node_id == self.serve_node,
                    total=dict(node.get("Resources") or {}),
                    free=dict(free.get(node_id, {})),
                    labels=dict(node.get("Labels") or {}),
                )
            )
        self.nodes = nodes
        return nodes

    def refusal(self, request: ResourceRequest, *, serve_node_only: bool) -> str | None:
        """Why no alive node could ever hold `request` (checked against totals and labels,
        not what is free now), or None."""
        alive = [n for n in self.nodes if n.alive and (n.serve_node or not serve_node_only)]
        lacks = [request.shortfall(n.total, n.labels) for n in alive]
        if alive and not all(lacks):
            return None
        asks = f"this group's run asks for {request.describe()}"
        if not alive:
            return f"{asks}, and no node of the Ray cluster is alive"
        if serve_node_only:  # extra mounts, or a workspace too large to ship
            return f"{asks}, and serve's node, the only one it may use, lacks {lacks[0]}"
        missing = sorted(set(filter(None, lacks)))
        if len(missing) == 1:
            return f"{asks}, and no node of the Ray cluster has {missing[0]}"
        return f"{asks}, and no node of the Ray cluster has all of it ({'; '.join(missing)})"

    def fits_now(self, request: ResourceRequest, *, serve_node_only: bool) -> bool:
        return any(
            n.alive
            and (n.serve_node or not serve_node_only)
            and not request.shortfall(n.free, n.labels)
            for n in self.nodes
        )

    def close(self) -> None:
        if ray.is_initialized():
            ray.shutdown()


def _reachable(address: str, timeout: float = 5.0) -> None:
    """One clear line instead of Ray's long retries when nothing listens there."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        raise UnavailableError(
            f"cannot reach the Ray cluster at {address} ({exc})",
            "Start its head: pynchy node start --head, or check [ray] address",
        ) from None


def _free_per_node() -> dict[str, dict[str, float]]:
    """Each node's free resources. Ray has no public per-node call for this yet."""
    try:
        from ray._private.state import state

        return state.available_resources_per_node()
    except Exception as exc:  # a Ray without it: the feasibility check still works
        log.debug("no per-node free resources: %s", exc)
        return {}
