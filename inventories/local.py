"""This machine, through pyinfra's @local connector (run as root).

    pynchy deploy                     # this inventory is the default
    pyinfra inventories/local.py deploy/pynchy.py

Installs pynchy from this checkout (built into a wheel first). Services are started and the
agent image is built only where systemd runs; elsewhere (a container, a chroot) the units are
installed and enabled for the next boot.
"""

from pathlib import Path

_SYSTEMD_RUNNING = Path("/run/systemd/system").is_dir()

local = [
    (
        "@local",
        {
            "pynchy_source": "local",
            "pynchy_start_services": _SYSTEMD_RUNNING,
            "pynchy_build_image": _SYSTEMD_RUNNING,
        },
    ),
]
