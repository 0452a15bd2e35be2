"""The container runtime: podman and runc, containers.conf, and podman's API socket.

pynchy talks to podman through its Docker-compatible API socket. The system socket
(podman.socket, rootful) is enabled with a drop-in that gives the pynchy group access to it:
whoever can use that socket can run containers as root, so only the pynchy user should be in
that group. The keys of `pynchy_containers_conf` are merged into containers.conf, like
scripts/setup-podman does: the file's other keys, tables and comments stay. The default is
what a kernel with hybrid cgroups and without CAP_SYS_RESOURCE needs (runc instead of crun,
fixed ulimits) and works elsewhere too. Set it to None to leave the file alone.
"""

from __future__ import annotations

from io import StringIO

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from deploy.tasks.packages import apt_install
from deploy.util.defaults import DEFAULTS, options
from deploy.util.ops import toml_settings, unit_enabled

CONTAINERS_CONF = "/etc/containers/containers.conf"
SOCKET_DROPIN = "/etc/systemd/system/podman.socket.d/pynchy.conf"


def socket_dropin(group: str) -> str:
    return (
        "# Written by pynchy's deploy: the pynchy service reaches podman through this socket.\n"
        "[Socket]\n"
        f"SocketGroup={group}\n"
        "SocketMode=0660\n"
    )


@deploy("Container runtime", data_defaults=DEFAULTS)
def container_runtime() -> None:
    opts = options(host)
    if not opts.container_runtime:
        return
    if opts.install_packages:
        packages = ["podman", "runc"]
        if opts.build_image:
            packages.append("debootstrap")  # builds the agent image's base without a registry
        apt_install("Install podman and runc", packages, opts)

    if opts.containers_conf:
        toml_settings(
            name=f"Set pynchy's keys in {CONTAINERS_CONF}",
            path=CONTAINERS_CONF,
            settings=opts.containers_conf,
            header="# Keys set by pynchy's deploy (data key pynchy_containers_conf); "
            "other settings are kept.\n",
        )

    if not opts.podman_socket:
        return
    dropin = files.put(
        name="Let the pynchy group use podman's API socket",
        src=StringIO(socket_dropin(opts.user)),
        dest=SOCKET_DROPIN,
        user="root",
        group="root",
        mode="644",
        create_remote_dir=True,
    )
    unit_enabled(name="Enable podman.socket", unit="podman.socket")
    if opts.start_services:
        systemd.daemon_reload(name="Reload systemd (podman.socket changed)", _if=dropin.did_change)
        systemd.service(
            name="Restart podman.socket (changed)",
            service="podman.socket",
            running=True,
            restarted=True,
            _if=any_changed(dropin),
        )
        systemd.service(name="Start podman.socket", service="podman.socket", running=True)
