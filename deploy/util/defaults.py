"""Every inventory data key the deploys read, its default, and a checked view of them.

The defaults give a complete, running installation on a Debian/Ubuntu host with systemd.
`inventories/group_data/all.py` documents the same keys with the same values (a test keeps
the two equal); an inventory overrides any of them per host or per group.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra.api.exceptions import DeployError

DEFAULTS: dict[str, Any] = {
    # Where pynchy lives on the host.
    "pynchy_user": "pynchy",
    "pynchy_home": "/var/lib/pynchy",
    "pynchy_prefix": "/opt/pynchy",
    "pynchy_python": "python3",
    "pynchy_bin_link": "/usr/local/bin/pynchy",
    # Step: system packages.
    "pynchy_install_packages": True,
    "pynchy_apt_cache_time": 3600,
    "pynchy_extra_packages": [],
    "pynchy_ca_certificates": [],
    # Step: container runtime.
    "pynchy_container_runtime": True,
    "pynchy_containers_conf": {
        "containers": {"default_ulimits": ["nofile=1024:1024", "nproc=1024:1024"]},
        "engine": {"runtime": "runc"},
    },
    "pynchy_podman_socket": True,
    # Step: the system user.
    "pynchy_create_user": True,
    # Step: the virtual environment.
    "pynchy_install": True,
    "pynchy_source": "local",
    "pynchy_version": None,
    "pynchy_source_path": None,
    "pynchy_plugins": [],
    "pynchy_pip_config": {},
    "pynchy_upgrade": False,
    # Step: config.toml.
    "pynchy_write_config": True,
    "pynchy_config": {},
    "pynchy_accounts": {},
    "pynchy_validate_config": True,
    # Step: the agent image.
    "pynchy_build_image": True,
    "pynchy_image_build_args": [],
    # Step: the service.
    "pynchy_service": True,
    "pynchy_start_services": True,
    "pynchy_service_environment": {},
    "pynchy_serve_args": [],
    # Step: periodic agents.
    "pynchy_periodic_agents": [],
    "pynchy_scheduler": "systemd",
    # Step: a Ray node (scaling = "ray"; checked in deploy/util/ray_role.py).
    "pynchy_ray_role": None,
    "pynchy_ray_node_ip": None,
    "pynchy_ray_port": 6379,
    "pynchy_ray_address": None,
    "pynchy_ray_token_file": None,
    "pynchy_ray_token": None,
    "pynchy_ray_num_cpus": None,
    "pynchy_ray_num_gpus": None,
    "pynchy_ray_resources": {},
    "pynchy_ray_labels": {},
}

PODMAN_SOCKET = "/run/podman/podman.sock"
DEFAULT_IMAGE = "localhost/pynchy-agent:latest"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]*$")


def _fail(message: str) -> DeployError:
    return DeployError(f"inventory data: {message}")


# An inventory entry may carry the agent's definition, written to config.toml as
# [periodic.NAME] (its schedule is then a cron expression, converted for the timer).
DEFINITION_KEYS = (
    "group",
    "prompt",
    "prompt_file",
    "model",
    "account",
    "profile",
    "budget",
    "enabled",
    "mcp_servers",
    "description",
)
_ENTRY_KEYS = {"name", "schedule", "on_calendar", *DEFINITION_KEYS}


@dataclass(frozen=True)
class PeriodicAgent:
    name: str
    schedule: str  # cron, or (an entry without a definition, systemd) OnCalendar
    definition: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    calendar: str | None = None  # on_calendar given in the entry

    @property
    def unit(self) -> str:
        return f"pynchy-periodic-{self.name}"

    @property
    def on_calendar(self) -> str:
        """What its systemd timer fires on."""
        from deploy.util.schedule import is_cron, on_calendar

        if self.calendar:
            return self.calendar
        return on_calendar(self.name, self.schedule) if is_cron(self.schedule) else self.schedule

    def table(self) -> dict[str, Any] | None:
        """Its [periodic.NAME] table for config.toml; None without a definition."""
        if not self.definition:
            return None
        table = {"schedule": self.schedule, "enabled": True, **self.definition}
        if "prompt_file" in table:  # a file on the deployer: its text goes in config.toml
            path = Path(str(table.pop("prompt_file"))).expanduser()
            try:
                table["prompt"] = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise _fail(
                    f"periodic agent {self.name}: cannot read {path} ({exc.strerror})"
                ) from None
        return table


@dataclass(frozen=True)
class Options:
    """The checked data of one host; `opts.x` is data key `pynchy_x`."""

    raw: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.raw[f"pynchy_{name}"]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def venv(self) -> str:
        return f"{self.prefix}/venv"

    @property
    def dist_dir(self) -> str:
        return f"{self.prefix}/dist"

    @property
    def pynchy_bin(self) -> str:
        return f"{self.venv}/bin/pynchy"

    @property
    def config_dir(self) -> str:
        """pynchy's XDG config folder for its user (where `pynchy` looks without PYNCHY_HOME)."""
        return f"{self.home}/.config/pynchy"

    @property
    def config_file(self) -> str:
        return f"{self.config_dir}/config.toml"

    @property
    def uses_podman_socket(self) -> bool:
        return bool(self.container_runtime and self.podman_socket)

    @property
    def image(self) -> str:
        return str(self.config.get("image") or DEFAULT_IMAGE)

    @property
    def periodic(self) -> list[PeriodicAgent]:
        return [
            PeriodicAgent(
                a["name"],
                a["schedule"],
                {k: a[k] for k in DEFINITION_KEYS if k in a},
                a.get("on_calendar"),
            )
            for a in self.periodic_agents
        ]


def options(host: Any) -> Options:
    """Read and check every pynchy_* data key of `host`, defaults filled in."""
    data = host.data.dict() if hasattr(host.data, "dict") else dict(host.data)
    unknown = sorted(k for k in data if k.startswith("pynchy_") and k not in DEFAULTS)
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise _fail(f"unknown key {key}{hint}; the keys are in inventories/group_data/all.py")
    raw = {key: host.data.get(key, default) for key, default in DEFAULTS.items()}
    _check(raw)
    return Options(raw)


def _check(raw: dict[str, Any]) -> None:
    def want(key: str, kind: type | tuple[type, ...], what: str) -> None:
        if not isinstance(raw[key], kind):
            raise _fail(f"{key} must be {what}, not {raw[key]!r}")

    for key in ("pynchy_user", "pynchy_home", "pynchy_prefix", "pynchy_python", "pynchy_source"):
        want(key, str, "a string")
    if not _USER.match(raw["pynchy_user"]):
        raise _fail(f"pynchy_user {raw['pynchy_user']!r} is not a valid user name")
    for key in ("pynchy_home", "pynchy_prefix"):
        if not raw[key].startswith("/"):
            raise _fail(f"{key} must be an absolute path, not {raw[key]!r}")
    for key in (
        "pynchy_install_packages",
        "pynchy_container_runtime",
        "pynchy_podman_socket",
        "pynchy_create_user",
        "pynchy_install",
        "pynchy_upgrade",
        "pynchy_write_config",
        "pynchy_validate_config",
        "pynchy_build_image",
        "pynchy_service",
        "pynchy_start_services",
    ):
        want(key, bool, "true or false")
    for key in (
        "pynchy_extra_packages",
        "pynchy_ca_certificates",
        "pynchy_plugins",
        "pynchy_image_build_args",
        "pynchy_serve_args",
        "pynchy_periodic_agents",
    ):
        want(key, list, "a list")
    for key in (
        "pynchy_pip_config",
        "pynchy_config",
        "pynchy_accounts",
        "pynchy_service_environment",
    ):
        want(key, dict, "a mapping")
    if raw["pynchy_containers_conf"] is not None:
        want("pynchy_containers_conf", dict, "a mapping of sections (or None)")
    if raw["pynchy_bin_link"] is not None:
        want("pynchy_bin_link", str, "a path (or None)")
    if raw["pynchy_version"] is not None:
        want("pynchy_version", str, "a version string (or None)")
    if raw["pynchy_source_path"] is not None:
        want("pynchy_source_path", str, "a path (or None)")
    if raw["pynchy_apt_cache_time"] is not None:
        want("pynchy_apt_cache_time", int, "seconds (or None)")
    if raw["pynchy_scheduler"] not in ("systemd", "cron"):
        raise _fail(
            f"pynchy_scheduler must be 'systemd' or 'cron', not {raw['pynchy_scheduler']!r}"
        )
    seen: set[str] = set()
    for i, agent in enumerate(raw["pynchy_periodic_agents"]):
        if not isinstance(agent, dict) or not {"name", "schedule"} <= set(agent):
            raise _fail(
                f"pynchy_periodic_agents[{i}] must be a mapping with 'name' and 'schedule', "
                f"not {agent!r}"
            )
        name, schedule = agent["name"], agent["schedule"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(f"periodic agent name {name!r} must be lowercase letters, digits, - or _")
        if not isinstance(schedule, str) or not schedule.strip() or "\n" in schedule:
            raise _fail(f"periodic agent {name}: schedule must be a one-line string")
        if name in seen:
            raise _fail(f"periodic agent {name} is listed twice")
        unknown = sorted(set(agent) - _ENTRY_KEYS)
        if unknown:
            raise _fail(
                f"periodic agent {name}: unknown key {unknown[0]!r}"
                f" (keys: {', '.join(sorted(_ENTRY_KEYS))})"
            )
        defines = any(k in agent for k in DEFINITION_KEYS)
        if defines and len(schedule.split()) != 5 and not schedule.startswith("@"):
            raise _fail(
                f"periodic agent {name}: with a definition, schedule is a cron expression"
                ' ("0 7 * * *"), as in [periodic.NAME]; the timer\'s can be given as on_calendar'
            )
        seen.add(name)
    for name, value in raw["pynchy_service_environment"].items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(name)) or "\n" in str(value):
            raise _fail(f"pynchy_service_environment: bad variable {name!r}")
