"""The `pynchy` system user and group that run the service and own its data."""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.operations import files, server

from deploy.util.defaults import DEFAULTS, options


@deploy("pynchy user", data_defaults=DEFAULTS)
def pynchy_user() -> None:
    opts = options(host)
    if not opts.create_user:
        return
    server.group(name="Create the pynchy group", group=opts.user, system=True)
    server.user(
        name="Create the pynchy user",
        user=opts.user,
        group=opts.user,
        home=opts.home,
        shell="/usr/sbin/nologin",
        system=True,
        ensure_home=False,
        comment="pynchy assistant",
    )
    files.directory(
        name="pynchy's home folder",
        path=opts.home,
        user=opts.user,
        group=opts.user,
        mode="750",
    )
