"""The agent image, built on the host by `pynchy agent image build` (as root).

Built when the engine lacks the image, and again whenever the install step changed pynchy.
Needs podman's API socket to answer, so a host with `pynchy_start_services = False` (a chroot,
an image being prepared) should also set `pynchy_build_image = False`.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import server
from pyinfra.operations.util import any_changed

from deploy.util.defaults import DEFAULTS, PODMAN_SOCKET, options
from deploy.util.ops import agent_image


@deploy("Agent image", data_defaults=DEFAULTS)
def build_agent_image(changed: list[OperationMeta] | None = None) -> None:
    opts = options(host)
    if not opts.build_image:
        return
    env = ["env", f"PYNCHY_IMAGE={opts.image}"]
    if opts.uses_podman_socket:
        env.append(f"PYNCHY_CONTAINER_SOCKET=unix://{PODMAN_SOCKET}")
    command = [*env, opts.pynchy_bin, "agent", "image", "build", *map(str, opts.image_build_args)]
    if changed:
        server.shell(
            name="Rebuild the agent image (pynchy changed)",
            commands=[shlex.join(command)],
            _if=any_changed(*changed),
        )
    agent_image(name="Build the agent image if missing", image=opts.image, build_command=command)
