"""config.toml for the pynchy user, rendered from inventory data with secrets from the deployer.

The file lands in the pynchy user's XDG config folder (`~pynchy/.config/pynchy/config.toml`,
where `pynchy` looks for it without PYNCHY_HOME), mode 600, in a folder only that user can
enter. It is written by `secret_file`, which never prints the content, with --diff or -vvv.
"""

from __future__ import annotations

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files

from deploy.util import config
from deploy.util.defaults import DEFAULTS, options
from deploy.util.ops import secret_file


@deploy("pynchy config", data_defaults=DEFAULTS)
def pynchy_config() -> list[OperationMeta]:
    """Returns the operations whose change means the service should restart."""
    opts = options(host)
    if not opts.write_config:
        return []
    text = config.render(opts)
    for path in (f"{opts.home}/.config", opts.config_dir):
        files.directory(
            name=f"Create {path}",
            path=path,
            user=opts.user,
            group=opts.user,
            mode="700",
        )
    written = secret_file(
        name="Write config.toml (mode 600; content not shown)",
        content=text,
        dest=opts.config_file,
        user=opts.user,
        group=opts.user,
        mode="600",
    )
    return [written]
