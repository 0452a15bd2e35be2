"""[ray] in config.toml: how serve reaches Ray, and the resources a group's run asks for
when the group names none of its own (`pynchy groups set G --cpus ...`)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.runtimes.common import memory_bytes

# Ray's label keys and values: letters, digits, '-', '_', '.', a '/' prefix on keys.
_LABEL_NAME = r"[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?"
LABEL_KEY_RE = re.compile(rf"^([a-zA-Z0-9.-]{{1,253}}/)?{_LABEL_NAME}$")
LABEL_VALUE_RE = re.compile(rf"^({_LABEL_NAME})?$")
RESOURCE_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$")
# Ray's own names, asked for with --cpus/--gpus/--memory instead; node:* are per-node markers.
RESERVED_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


def check_resource_name(name: str) -> str | None:
    """Why `name` cannot be a custom resource, or None."""
    if name in RESERVED_RESOURCES or name.startswith("node:"):
        return f"{name} is Ray's own resource: use --cpus, --gpus or --memory"
    if not RESOURCE_NAME_RE.match(name):
        return f"invalid resource name {name!r}: letters, digits, '_', '.' or '-'"
    return None


def check_label(key: str, value: str) -> str | None:
    """Why `key=value` cannot be a node label, or None."""
    if not LABEL_KEY_RE.match(key) or key.startswith("ray.io/"):
        return f"invalid label key {key!r}"
    if not LABEL_VALUE_RE.match(value):
        return f"invalid label value {value!r} for {key}"
    return None


class RaySettings(BaseModel):
    model_config = {"extra": "forbid"}

    address: str | None = Field(
        None, description="HOST:PORT of a running Ray cluster; unset: one embedded on loopback"
    )
    node_ip: str | None = Field(
        None, description="the address `pynchy node start` gives Ray (default: Ray's choice)"
    )
    cpus: float = Field(1.0, ge=0, description="CPUs a group's run reserves by default")
    memory: str | None = Field(None, description="memory a run reserves by default, e.g. 2g")
    gpus: float = Field(0, ge=0, description="GPUs a run reserves by default")
    resources: dict[str, float] = Field({}, description="custom resources a run asks for")
    labels: dict[str, str] = Field({}, description="node labels a run must land on")
    max_workspace_mb: int = Field(
        256, gt=0, description="larger workspaces run on serve's node only, never shipped"
    )

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                memory_bytes(value)
            except PynchyError as exc:
                raise ValueError(exc.message) from None
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: dict[str, float]) -> dict[str, float]:
        for name, amount in value.items():
            problem = check_resource_name(name) or (None if amount >= 0 else f"{name} < 0")
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            problem = check_label(key, label)
            if problem:
                raise ValueError(problem)
        return value
