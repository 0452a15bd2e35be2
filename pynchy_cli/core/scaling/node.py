"""`pynchy node start/stop`: this machine as a node of pynchy's Ray cluster, through Ray's
own `ray start` / `ray stop`, always with token auth (core/scaling/auth.py).

The head (`--head`) makes the token when there is none. A worker (`--address HEAD:PORT`)
needs the head's token first: pynchy's `ray-token` file copied into this machine's data
folder, a file named by --token-file, or RAY_AUTH_TOKEN in the environment. The node uses
the address it is given (--node-ip, else [ray] node_ip, else the one Ray sees the head
from). A head on 127.0.0.1 keeps every port on loopback and takes no other node; on a LAN
address Ray listens on every interface (docs/scaling.md, Security). Nothing here imports
ray.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pynchy_cli.core.errors import UnavailableError, UsageError
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.scaling import INSTALL_HINT
from pynchy_cli.core.scaling.auth import LOOPBACK_ENV, auth_env, is_loopback, token_path
from pynchy_cli.core.scaling.settings import check_label, check_resource_name

DEFAULT_PORT = 6379


@dataclass
class NodeOptions:
    head: bool = False
    address: str | None = None  # HEAD:PORT, for a worker
    port: int = DEFAULT_PORT  # the head's port
    node_ip: str | None = None
    num_cpus: float | None = None
    num_gpus: float | None = None
    resources: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    token_file: Path | None = None
    block: bool = False  # stay in the foreground (a systemd unit); Ctrl-C stops the node


def ray_cli() -> str:
    """The `ray` command of this Python environment."""
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.exists() else shutil.which("ray")
    if not found:
        raise UnavailableError("ray is not installed here", INSTALL_HINT)
    return found


def parse_resources(text: str | None) -> dict[str, float]:
    """--resources '{"bigmem": 1}' -> {"bigmem": 1.0}, checked."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = "Use --resources '{\"x\": 1}'"
        raise UsageError(f"--resources is not JSON ({exc.msg})", hint) from None
    if not isinstance(data, dict):
        raise UsageError("--resources must be a JSON object", "Use --resources '{\"x\": 1}'")
    resources = {}
    for name, amount in data.items():
        problem = check_resource_name(name)
        if problem or not isinstance(amount, int | float) or amount < 0:
            raise UsageError(problem or f"--resources {name}: the amount must be a number >= 0")
        resources[name] = float(amount)
    return resources


def parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        problem = None if sep else f"{item!r} is not KEY=VALUE"
        problem = problem or check_label(key, value)
        if problem:
            raise UsageError(problem, "Use --labels KEY=VALUE")
        labels[key] = value
    return labels


def start_command(options: NodeOptions) -> list[str]:
    if options.head == bool(options.address):
        raise UsageError("give --head or --address HEAD:PORT", "See: pynchy node start --help")
    command = [ray_cli(), "start", "--disable-usage-stats"]
    if options.head:
        command += ["--head", f"--port={options.port}", "--include-dashboard=false"]
    else:
        command += [f"--address={options.address}"]
    if options.node_ip and not is_loopback(options.node_ip):
        # On loopback Ray is left to find the address itself: given 127.0.0.1 it would
        # swap it for the LAN address.
        command += [f"--node-ip-address={options.node_ip}"]
    if options.num_cpus is not None:
        command += [f"--num-cpus={options.num_cpus:g}"]
    if options.num_gpus is not None:
        command += [f"--num-gpus={options.num_gpus:g}"]
    if options.resources:
        command += [f"--resources={json.dumps(options.resources)}"]
    if options.labels:
        command += ["--labels=" + ",".join(f"{k}={v}" for k, v in options.labels.items())]
    if options.block:
        command += ["--block"]
    return command


def start_env(paths: Paths, options: NodeOptions) -> dict[str, str]:
    """The node's environment: token auth with pynchy's token (made for a new head)."""
    env = {**os.environ, **auth_env(paths, create=options.head, token_file=options.token_file)}
    if not (env.get("RAY_AUTH_TOKEN") or env.get("RAY_AUTH_TOKEN_PATH")):
        raise UsageError(
            f"no Ray token on this machine (looked for {token_path(paths)})",
            "Copy the head's ray-token file there (mode 600), or pass --token-file PATH",
        )
    token_file = env.get("RAY_AUTH_TOKEN_PATH")
    if token_file and not Path(token_file).is_file():
        raise UsageError(f"no Ray token file at {token_file}", "Check --token-file")
    if options.head and is_loopback(options.node_ip):
        # One machine only: Ray stays on loopback (and then no other node can join).
        env[LOOPBACK_ENV] = "0"
    return env
