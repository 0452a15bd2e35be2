"""A host's Ray node (scaling = "ray"): the cluster's token and a systemd unit for its role.

`pynchy_ray_role = "head" | "worker"` (checked in deploy/util/ray_role.py) gives the host
`pynchy-ray-head.service` or `pynchy-ray-worker.service`, running `pynchy node start --head`
or `--address HEAD:PORT` with `--block`, as the pynchy user, on `pynchy_ray_node_ip`. The
token from the deployer goes to `ray-token` in pynchy's data folder (mode 600, owned by the
pynchy user, written without ever being shown), where serve and `pynchy node start` look for
it; the unit names the file, never the token. On the head, serve's config gets scaling =
"ray" and the cluster's address (deploy/util/config.py) and pynchy.service starts after the
head. The pynchy[ray] extra is installed by deploy/tasks/install.py. A unit of a role the
host no longer has is stopped, disabled and removed; the token file stays (serve's own
embedded Ray uses the same file).
"""

from __future__ import annotations

import posixpath
from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.facts.files import File
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from deploy.tasks.service import JINJA, TEMPLATES, UNIT, _systemd_quote
from deploy.util import ray_role
from deploy.util.defaults import DEFAULTS, Options, options
from deploy.util.ops import secret_file, unit_disabled, unit_enabled

UNIT_DIR = "/etc/systemd/system"
SERVE_DROP_IN = f"{UNIT_DIR}/{UNIT}.d/pynchy-ray.conf"
_SERVE_AFTER_HEAD = """\
# Written by pynchy's deploy (deploy/tasks/ray.py): serve drives this host's Ray head.
[Unit]
Wants=pynchy-ray-head.service
After=pynchy-ray-head.service
"""


def _remove_unit(opts: Options, unit: str) -> OperationMeta | None:
    path = f"{UNIT_DIR}/{unit}"
    if not host.get_fact(File, path=path):
        return None
    if opts.start_services:
        systemd.service(name=f"Stop {unit}", service=unit, running=False)
    unit_disabled(name=f"Disable {unit}", unit=unit)
    return files.file(name=f"Remove {path}", path=path, present=False)


def _private_folder(opts: Options, folder: str) -> None:
    """`folder` and the folders between the pynchy user's home and it, owned by that user."""
    chain = [folder]
    parent = posixpath.dirname(folder)
    while parent.startswith(opts.home + "/"):
        chain.insert(0, parent)
        parent = posixpath.dirname(parent)
    for path in chain:
        files.directory(
            name=f"Create {path}",
            path=path,
            user=opts.user,
            group=opts.user,
            mode="700" if path == folder else None,
        )


@deploy("Ray node", data_defaults=DEFAULTS)
def ray_node(installed: list[OperationMeta] | None = None) -> None:
    """`installed`: operations (the pip install) whose change restarts the node."""
    opts = options(host)
    ray = ray_role.node(opts)
    keep = ray.unit if ray else None
    removed = [_remove_unit(opts, unit) for unit in ray_role.units() if unit != keep]
    if ray is not None and ray.role == "head" and opts.service:
        files.directory(name=f"Create {UNIT_DIR}/{UNIT}.d", path=f"{UNIT_DIR}/{UNIT}.d")
        drop_in = files.put(
            name=f"Start {UNIT} after the Ray head",
            src=StringIO(_SERVE_AFTER_HEAD),
            dest=SERVE_DROP_IN,
            mode="644",
        )
    else:
        drop_in = files.file(name=f"No {SERVE_DROP_IN}", path=SERVE_DROP_IN, present=False)
    changed_units = [op for op in (*removed, drop_in) if op is not None]
    if ray is None:
        if opts.start_services:
            systemd.daemon_reload(
                name="Reload systemd (Ray units changed)", _if=any_changed(*changed_units)
            )
        return

    _private_folder(opts, ray_role.data_dir(opts))
    token = secret_file(
        name="Write the Ray cluster token (mode 600; content not shown)",
        content=ray.token + "\n",
        dest=ray_role.token_path(opts),
        user=opts.user,
        group=opts.user,
        mode="600",
    )
    unit = files.template(
        name=f"Install {ray.unit}",
        src=str(TEMPLATES / "pynchy-ray.service.j2"),
        dest=f"{UNIT_DIR}/{ray.unit}",
        user="root",
        group="root",
        mode="644",
        opts=opts,
        role=ray.role,
        exec_start=ray_role.exec_start(opts, ray),
        environment=[
            _systemd_quote(f"{k}={v}") for k, v in sorted(opts.service_environment.items())
        ],
        podman=opts.uses_podman_socket,
        jinja_env_kwargs=JINJA,
    )
    unit_enabled(name=f"Enable {ray.unit}", unit=ray.unit)
    if not opts.start_services:
        return
    systemd.daemon_reload(
        name="Reload systemd (Ray units changed)", _if=any_changed(unit, *changed_units)
    )
    systemd.service(
        name=f"Restart {ray.unit} (changed)",
        service=ray.unit,
        running=True,
        restarted=True,
        _if=any_changed(unit, token, *(installed or [])),
    )
    systemd.service(name=f"Start {ray.unit}", service=ray.unit, running=True)
