"""What pynchy tells a person about scaling: doctor's line, and the running serve's status
(`pynchy status` reads it; with Ray it holds the nodes and the runs waiting). Never imports
ray: the cluster is seen through serve, which is connected to it."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import stat
from typing import Any

from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.scaling import INSTALL_HINT
from pynchy_cli.core.scaling.auth import is_loopback, token_path


def fetch_status(c: Context, port: int | None = None, sock: str | None = None) -> dict[str, Any]:
    """GET /status of the running serve: at the address given, else where it recorded."""
    from pynchy_cli.core.serve.client import ApiClient
    from pynchy_cli.core.serve.endpoint import http_url, running_endpoint

    async def ask() -> dict[str, Any]:
        found = None if port or sock else running_endpoint(c.paths)
        if found is not None:
            client = ApiClient.for_paths(c.paths, found.url or "", found.socket)
        else:
            url = http_url(c.settings.api.host, port or c.settings.api.port)
            client = ApiClient.for_paths(c.paths, url, sock)
        try:
            return await client.status()
        finally:
            await client.close()

    return asyncio.run(ask())


def doctor_line(c: Context) -> tuple[bool, str, str | None]:
    """(ok, detail, fix) of doctor's scaling check."""
    settings = c.settings
    if settings.scaling == "local":
        return True, f"local: up to {settings.limits.max_concurrent} runs at once", None
    if importlib.util.find_spec("ray") is None:
        return False, "scaling = ray but ray is not installed", INSTALL_HINT
    address = settings.ray.address
    facts = [f"ray, {'cluster at ' + address if address else 'embedded on loopback'}"]
    problem = _token_problem(c, address)
    if problem:
        return False, "; ".join([*facts, problem[0]]), problem[1]
    if address and not _answers(address):
        return False, f"{facts[0]}: nothing answers there", "Start the head: pynchy node start"
    if settings.ray.node_ip and not is_loopback(settings.ray.node_ip):
        facts.append(
            f"Ray listens on every interface of {settings.ray.node_ip}'s machine: "
            "allow its ports only from the cluster's machines"
        )
    facts.append(_nodes_seen(c))
    return True, "; ".join(facts), None


def _token_problem(c: Context, address: str | None) -> tuple[str, str] | None:
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return None
    path = token_path(c.paths)
    if not path.exists():
        if address is None:
            return None  # serve makes one for its embedded Ray
        return f"no Ray token at {path}", "Copy the head's ray-token file there (mode 600)"
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        return f"the Ray token {path} is readable by others", f"Run: chmod 600 {path}"
    return None


def _answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def _nodes_seen(c: Context) -> str:
    try:
        scaling = fetch_status(c).get("scaling") or {}
    except PynchyError:
        return "nodes: shown while pynchy serve runs"
    if scaling.get("scaling") != "ray":
        return "nodes: the running serve is in local mode (restart it)"
    alive = [n for n in scaling.get("nodes", []) if n["alive"]]
    gpus = sum(n["total"].get("GPU", 0) for n in alive)
    waiting = len(scaling.get("waiting", []))
    return f"{len(alive)} node(s) alive, {gpus:g} GPU, {waiting} run(s) waiting for resources"
