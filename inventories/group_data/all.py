"""Every inventory data key pynchy's deploys read, set to its default.

pyinfra loads this file for every host of every inventory in this folder; an inventory's host
or group data overrides any key. The same defaults live in deploy/util/defaults.py, so the
deploys work without this file too (a test keeps the two equal). A key starting with
`pynchy_` that is not listed here is refused, to catch typos.
"""

# --- Where pynchy lives on the host -------------------------------------------------------
pynchy_user = "pynchy"  # system user (and group) that runs the service and owns its data
pynchy_home = "/var/lib/pynchy"  # its home; config in ~/.config/pynchy, data in ~/.local/share
pynchy_prefix = "/opt/pynchy"  # virtualenv in PREFIX/venv, uploaded wheels in PREFIX/dist
pynchy_python = "python3"  # interpreter the virtualenv is made with (>= 3.11)
pynchy_bin_link = "/usr/local/bin/pynchy"  # symlink to the venv's pynchy; None: no link

# --- Step: system packages ------------------------------------------------------------------
pynchy_install_packages = True  # apt-get install python3, python3-venv, ca-certificates, ...
pynchy_apt_cache_time = 3600  # refresh package lists older than this (only if installing)
pynchy_extra_packages = []  # more Debian packages to install
pynchy_ca_certificates = []  # CA files ON THE DEPLOYER to trust on the host (TLS proxies)

# --- Step: container runtime ------------------------------------------------------------------
pynchy_container_runtime = True  # install podman + runc (+ debootstrap to build the image)
pynchy_containers_conf = {  # merged into /etc/containers/containers.conf (other keys stay,
    #                           the changed file is backed up first); None: leave it alone
    "containers": {"default_ulimits": ["nofile=1024:1024", "nproc=1024:1024"]},
    "engine": {"runtime": "runc"},
}
pynchy_podman_socket = True  # enable podman.socket, usable by the pynchy group

# --- Step: the system user --------------------------------------------------------------------
pynchy_create_user = True  # False: the user must exist already

# --- Step: the virtual environment --------------------------------------------------------------
pynchy_install = True
pynchy_source = "local"  # "local": the checkout this deploy runs from, built into a wheel
#                          on the deployer and uploaded; or a pip requirement such as
#                          "git+https://github.com/OWNER/pynchy@main"; "pypi": `pynchy` from
#                          the package index (pynchy is not on PyPI: only for a private index)
pynchy_version = None  # with "pypi": a version to pin, e.g. "0.1.0"; None: the latest
pynchy_source_path = None  # with "local": the checkout; None: the one this deploy is in
pynchy_plugins = []  # pip requirements, or plugin folders (relative to the checkout)
pynchy_pip_config = {}  # the venv's pip.conf, e.g. {"global": {"index-url": "https://..."}}
pynchy_upgrade = False  # pip install --upgrade on every run (always reports a change)

# --- Step: config.toml --------------------------------------------------------------------------
pynchy_write_config = True
pynchy_config = {}  # settings as in config.toml, e.g. {"model": "...", "limits": {...}}
pynchy_accounts = {}  # name: {provider, base_url, api_key_env | api_key_file}, keys from
#                       the deployer's environment or files; written mode 600, never shown
pynchy_validate_config = True  # check the settings with the deployer's pynchy, if installed

# --- Step: the agent image ----------------------------------------------------------------------
pynchy_build_image = True  # `pynchy agent image build` as root (needs podman's API socket)
pynchy_image_build_args = []  # extra arguments for it

# --- Step: the service ----------------------------------------------------------------------------
pynchy_service = True  # install and enable pynchy.service (`pynchy serve`)
pynchy_start_services = True  # start/restart units; False where systemd is not running
pynchy_service_environment = {}  # Environment= for the service and periodic agents (no
#                                  secrets: unit files are world-readable; use accounts)
pynchy_serve_args = []  # extra arguments for `pynchy serve`

# --- Step: periodic agents ------------------------------------------------------------------------
pynchy_periodic_agents = []  # [{"name": "digest", "schedule": "*-*-* 07:00:00"}, ...]
pynchy_scheduler = "systemd"  # "systemd" (OnCalendar schedules) or "cron" (cron schedules)

# --- Step: a Ray node (scaling = "ray", docs/scaling.md "Deploying a cluster") --------------------
pynchy_ray_role = None  # "head": the cluster's head, and serve drives it (scaling = "ray");
#                         "worker": joins pynchy_ray_address; None: no Ray unit (removes one)
pynchy_ray_node_ip = None  # required with a role: the address Ray uses on this host (LAN or
#                            VPN); "127.0.0.1" for a one-machine head; 0.0.0.0 is refused
pynchy_ray_port = 6379  # the head's port
pynchy_ray_address = None  # a worker's head, "HOST:PORT" (e.g. "192.168.1.10:6379")
pynchy_ray_token_file = None  # the cluster's token, a file ON THE DEPLOYER (openssl rand -hex
#                               32 > ~/.config/pynchy-deploy/ray-token); the same for all nodes
pynchy_ray_token = None  # or the token itself (prefer the file: inventories get shared)
pynchy_ray_num_cpus = None  # CPUs this node offers; None: Ray counts them
pynchy_ray_num_gpus = None  # GPUs this node offers; None: Ray counts NVIDIA GPUs
pynchy_ray_resources = {}  # custom resources it offers, e.g. {"bigmem": 1}
pynchy_ray_labels = {}  # node labels, e.g. {"tier": "gpu"}
