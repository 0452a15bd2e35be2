"""The whole pynchy installation: from a bare Debian/Ubuntu host to a running `pynchy serve`.

    pyinfra inventories/local.py deploy/pynchy.py        # or: pynchy deploy [INVENTORY]

Steps, in order (each switchable by inventory data, see inventories/group_data/all.py):
system packages, the pynchy user, the container runtime, the virtualenv with pynchy and its
plugins, config.toml, the agent image, the host's Ray node (if it has a role), the pynchy
service, and the periodic agents.
"""

import sys
from pathlib import Path

# Make `deploy` importable whatever folder pyinfra runs from.
_CHECKOUT = str(Path(__file__).resolve().parent.parent)
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from deploy.tasks.config import pynchy_config  # noqa: E402
from deploy.tasks.container_runtime import container_runtime  # noqa: E402
from deploy.tasks.image import build_agent_image  # noqa: E402
from deploy.tasks.install import install_pynchy  # noqa: E402
from deploy.tasks.packages import system_packages  # noqa: E402
from deploy.tasks.periodic import periodic_agents  # noqa: E402
from deploy.tasks.ray import ray_node  # noqa: E402
from deploy.tasks.service import service  # noqa: E402
from deploy.tasks.user import pynchy_user  # noqa: E402
from deploy.util import report  # noqa: E402

report.enable_from_env()

system_packages()
pynchy_user()
container_runtime()
installed = install_pynchy()
configured = pynchy_config()
build_agent_image(installed)
ray_node(installed)
service([*installed, *configured])
periodic_agents()
