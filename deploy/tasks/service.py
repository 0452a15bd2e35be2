"""The systemd unit that runs `pynchy serve`: installed, enabled, started, restarted on change.

Enabling goes through `systemctl enable`, which needs no running systemd (a chroot works);
starting and restarting happen only with `pynchy_start_services` (the default).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from deploy.util.defaults import DEFAULTS, options
from deploy.util.ops import unit_enabled

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
JINJA = {"trim_blocks": True, "lstrip_blocks": True}
UNIT = "pynchy.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"


def _systemd_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@deploy("pynchy service", data_defaults=DEFAULTS)
def service(changed: list[OperationMeta] | None = None) -> None:
    """`changed`: operations (install, config) whose change restarts the service."""
    opts = options(host)
    if not opts.service:
        return
    unit = files.template(
        name=f"Install {UNIT_PATH}",
        src=str(TEMPLATES / "pynchy.service.j2"),
        dest=UNIT_PATH,
        user="root",
        group="root",
        mode="644",
        opts=opts,
        exec_start=shlex.join([opts.pynchy_bin, "serve", *map(str, opts.serve_args)]),
        environment=[
            _systemd_quote(f"{k}={v}") for k, v in sorted(opts.service_environment.items())
        ],
        podman=opts.uses_podman_socket,
        jinja_env_kwargs=JINJA,
    )
    unit_enabled(name=f"Enable {UNIT}", unit=UNIT)
    if not opts.start_services:
        return
    systemd.daemon_reload(name="Reload systemd (pynchy.service changed)", _if=unit.did_change)
    systemd.service(
        name="Restart pynchy (changed)",
        service=UNIT,
        running=True,
        restarted=True,
        _if=any_changed(unit, *(changed or [])),
    )
    systemd.service(name="Start pynchy", service=UNIT, running=True)
