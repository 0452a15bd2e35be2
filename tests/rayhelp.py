"""Ray clusters on this machine for the scaling tests: each node a `pynchy node start
--block` child (token auth, as a person would start it), stopped by the test."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Fast failure detection for the fault tests: a dead node is noticed in about a second.
FAST_HEALTH = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_initial_delay_ms": "500",
}


def ray_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def require_ray() -> None:
    """Skip without the extra; fail with PYNCHY_TEST_REQUIRE_RAY=1 (CI installs it)."""
    import pytest

    if not ray_installed():
        if os.environ.get("PYNCHY_TEST_REQUIRE_RAY") == "1":
            pytest.fail("ray is not installed (pip install -e '.[ray]')")
        pytest.skip("ray is not installed (pip install -e '.[ray]')")


def lan_ip() -> str:
    """The address Ray picks for a node here (as Ray does: the route out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("8.8.8.8", 80))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of pid, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [part.decode() for part in fh.read().split(b"\0") if part]
    except OSError:
        return []


@dataclass
class Node:
    name: str
    proc: subprocess.Popen
    args: list[str]

    def raylet(self) -> tuple[int, str] | None:
        """(pid, node id) of this node's raylet, once it runs."""
        for pid in _children(self.proc.pid):
            cmd = _cmdline(pid)
            if cmd and cmd[0].endswith("raylet"):
                ids = [a.split("=", 1)[1] for a in cmd if a.startswith("--node_id=")]
                if ids:
                    return pid, ids[0]
        return None


class Cluster:
    """A head and worker nodes; `address` is what serve joins."""

    def __init__(self, root: Path, *, loopback: bool = False):
        self.root = root
        self.home = root / "head-home"  # the head's pynchy data folder: its token is there
        self.home.mkdir(parents=True, exist_ok=True)
        self.ip = "127.0.0.1" if loopback else lan_ip()
        self.port = free_port()
        self.address = f"{self.ip}:{self.port}"
        self.nodes: dict[str, Node] = {}
        self.starts: dict[str, int] = {}  # "Ray runtime started" lines seen in each log

    @property
    def token(self) -> Path:
        return self.home / "ray-token"

    def give_token(self, home: Path) -> None:
        """Copy the head's token into another pynchy home, as a person copies it."""
        target = home / "ray-token"
        target.write_bytes(self.token.read_bytes())
        target.chmod(0o600)

    def _spawn(self, name: str, args: list[str], extra_env: dict[str, str]) -> Node:
        env = {**os.environ, "PYNCHY_HOME": str(self.home), **extra_env}
        for key in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS"):
            env.pop(key, None)
        log = (self.root / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "pynchy_cli", "node", "start", "--block", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        node = Node(name, proc, args)
        self.nodes[name] = node
        return node

    def start_head(self, *args: str) -> Cluster:
        head = ["--head", "--port", str(self.port), "--node-ip", self.ip]
        self._spawn("head", [*head, *args], FAST_HEALTH)
        self._wait_raylet("head")
        return self

    def add(self, name: str, *args: str) -> Node:
        token = ["--token-file", str(self.token)]
        node = self._spawn(name, ["--address", self.address, *token, *args], {})
        self._wait_raylet(name)
        return node

    def _wait_raylet(self, name: str, tries: int = 1200) -> None:
        """Until `ray start` says the node runs (it joined the cluster)."""
        node, log = self.nodes[name], self.root / f"{name}.log"
        for _ in range(tries):
            if node.proc.poll() is not None:
                raise RuntimeError(f"ray node {name} exited:\n{log.read_text()[-3000:]}")
            started = log.read_text().count("Ray runtime started")
            if started > self.starts.get(name, 0) and node.raylet() is not None:
                self.starts[name] = started
                return
            time.sleep(0.1)
        raise RuntimeError(f"ray node {name} did not start:\n{log.read_text()[-3000:]}")

    def node_id(self, name: str) -> str:
        found = self.nodes[name].raylet()
        assert found is not None, f"node {name} has no raylet"
        return found[1]

    def kill_raylet(self, name: str) -> None:
        """The node dies as a machine would: its raylet killed, then its `ray start`."""
        node = self.nodes[name]
        found = node.raylet()
        if found:
            os.kill(found[0], signal.SIGKILL)
        self._stop(node, signal.SIGKILL)

    def restart(self, name: str) -> Node:
        args = self.nodes[name].args
        node = self._spawn(name, args, {})
        self._wait_raylet(name)
        return node

    def _stop(self, node: Node, sig: int = signal.SIGTERM) -> None:
        kids = _children(node.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.proc.pid, sig)
        try:
            node.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait()
        for pid in kids:  # Ray's own daemons left behind by a killed node
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Every node killed at once: `ray start --block` takes half a minute to stop one."""
        for node in reversed(list(self.nodes.values())):
            if node.proc.poll() is None:
                self._stop(node, signal.SIGKILL)
