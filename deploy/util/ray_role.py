"""A host's Ray role from inventory data, checked: what its unit runs and what serve reads.

`pynchy_ray_role = "head"` makes the host the cluster's head (and serve a driver of it);
`"worker"` makes it join `pynchy_ray_address`. Either needs `pynchy_ray_node_ip`, the address
Ray uses on the host: the deploy never picks one itself, and refuses 0.0.0.0 (Ray's ports on
every network). "127.0.0.1" is a single-machine head: every port stays on loopback. The
cluster's token comes from the deployer (`pynchy_ray_token_file`, or `pynchy_ray_token`);
it is the same on every node and is never printed, nor put in a unit file.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra.api.exceptions import DeployError

from deploy.util.defaults import Options

ROLES = ("head", "worker")
TOKEN_FILE = "ray-token"  # as pynchy_cli/core/scaling/auth.py names it in the data folder
_RESOURCE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$")
_RESERVED = ("CPU", "GPU", "memory", "object_store_memory")
_LABEL_KEY = re.compile(r"^([a-zA-Z0-9.-]{1,253}/)?[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$")
_LABEL_VALUE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?)?$")
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):[0-9]{1,5}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.+/=-]{16,}$")


def _fail(message: str) -> DeployError:
    return DeployError(f"inventory data: {message}")


@dataclass(frozen=True)
class RayNode:
    role: str
    node_ip: str
    port: int
    address: str  # HEAD:PORT: a worker's head, or the head's own address
    token: str = field(repr=False)
    num_cpus: float | None
    num_gpus: float | None
    resources: dict[str, float]
    labels: dict[str, str]

    @property
    def unit(self) -> str:
        return f"pynchy-ray-{self.role}.service"


def units() -> list[str]:
    return [f"pynchy-ray-{role}.service" for role in ROLES]


def data_dir(opts: Options) -> str:
    """pynchy's data folder for its user, as the service sees it (PYNCHY_HOME wins)."""
    env = opts.service_environment
    if env.get("PYNCHY_HOME"):
        return str(env["PYNCHY_HOME"])
    base = env.get("XDG_DATA_HOME") or f"{opts.home}/.local/share"
    return f"{base}/pynchy"


def token_path(opts: Options) -> str:
    return f"{data_dir(opts)}/{TOKEN_FILE}"


def _bind_address(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(
            "pynchy_ray_role is set but pynchy_ray_node_ip is not: name the address Ray uses "
            'on this host (its LAN or VPN address, or "127.0.0.1" for a one-machine head)'
        )
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise _fail(f"pynchy_ray_node_ip must be an IP address, not {value!r}") from None
    if ip.is_unspecified:
        raise _fail(
            f"pynchy_ray_node_ip {value} would open Ray's ports on every network: "
            "name one address of this host"
        )
    return str(ip)


def _token(opts: Options) -> str:
    inline, named = opts.ray_token, opts.ray_token_file
    if inline and named:
        raise _fail("give only one of pynchy_ray_token and pynchy_ray_token_file")
    if named:
        path = Path(str(named)).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _fail(f"pynchy_ray_token_file: cannot read {path} ({exc.strerror})") from None
    elif inline:
        value = str(inline).strip()
    else:
        raise _fail(
            "pynchy_ray_role is set but there is no cluster token: set pynchy_ray_token_file "
            "to a file on the deployer (make one with: openssl rand -hex 32)"
        )
    if not _TOKEN.match(value):  # never echo it
        raise _fail("the Ray token must be one line of at least 16 letters, digits or +/=_.-")
    return value


def _amount(key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail(f"{key} must be a number >= 0 (or None), not {value!r}")
    return float(value)


def _resources(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise _fail(f"pynchy_ray_resources must be a mapping, not {value!r}")
    out = {}
    for name, amount in sorted(value.items()):
        if name in _RESERVED or str(name).startswith("node:") or not _RESOURCE.match(str(name)):
            raise _fail(
                f"pynchy_ray_resources: {name!r} cannot be a custom resource "
                "(letters, digits, '_', '.', '-'; CPU/GPU have their own keys)"
            )
        out[str(name)] = _amount(f"pynchy_ray_resources[{name!r}]", amount) or 0.0
    return out


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail(f"pynchy_ray_labels must be a mapping, not {value!r}")
    for key, label in value.items():
        key_ok = isinstance(key, str) and _LABEL_KEY.match(key) and not key.startswith("ray.io/")
        if not key_ok or not isinstance(label, str) or not _LABEL_VALUE.match(label):
            raise _fail(f"pynchy_ray_labels: {key!r}={label!r} is not a valid Ray node label")
    return dict(sorted(value.items()))


def node(opts: Options) -> RayNode | None:
    """The host's checked Ray role, or None. Raises DeployError with one line."""
    role = opts.ray_role
    if role is None:
        return None
    if role not in ROLES:
        raise _fail(f"pynchy_ray_role must be 'head', 'worker' or None, not {role!r}")
    node_ip = _bind_address(opts.ray_node_ip)
    port = opts.ray_port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _fail(f"pynchy_ray_port must be a port number, not {port!r}")
    if role == "head":
        host = f"[{node_ip}]" if ":" in node_ip else node_ip
        address = f"{host}:{port}"
    else:
        address = opts.ray_address
        if not isinstance(address, str) or not _HOST_PORT.match(address):
            raise _fail(
                f"a worker needs pynchy_ray_address, the head's HOST:PORT (not {address!r})"
            )
    return RayNode(
        role=role,
        node_ip=node_ip,
        port=port,
        address=address,
        token=_token(opts),
        num_cpus=_amount("pynchy_ray_num_cpus", opts.ray_num_cpus),
        num_gpus=_amount("pynchy_ray_num_gpus", opts.ray_num_gpus),
        resources=_resources(opts.ray_resources),
        labels=_labels(opts.ray_labels),
    )


def exec_start(opts: Options, ray: RayNode) -> str:
    """The unit's command: `pynchy node start ... --block`, with the token's path only."""
    command = [opts.pynchy_bin, "node", "start"]
    if ray.role == "head":
        command += ["--head", "--port", str(ray.port)]
    else:
        command += ["--address", ray.address]
    command += ["--node-ip", ray.node_ip, "--token-file", token_path(opts)]
    if ray.num_cpus is not None:
        command += ["--num-cpus", f"{ray.num_cpus:g}"]
    if ray.num_gpus is not None:
        command += ["--num-gpus", f"{ray.num_gpus:g}"]
    if ray.resources:
        command += ["--resources", json.dumps(ray.resources)]
    for key, value in ray.labels.items():
        command += ["--labels", f"{key}={value}"]
    command.append("--block")
    return shlex.join(command)


def settings(opts: Options) -> dict[str, Any]:
    """What config.toml gets from the role: a head's serve drives its cluster."""
    ray = node(opts)
    if ray is None:
        return {}
    if ray.role == "head":
        return {"scaling": "ray", "ray": {"address": ray.address, "node_ip": ray.node_ip}}
    return {"ray": {"node_ip": ray.node_ip}}
