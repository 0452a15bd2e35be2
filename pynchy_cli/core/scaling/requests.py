"""What a group's run asks Ray for: CPUs, memory, GPUs, custom resources and node labels.

A group stores only what was set for it (`pynchy groups add/set G --cpus 2 --resource
bigmem=1 --node-label tier=bigmem`, JSON in groups.resources); the rest comes from [ray] in
config.toml when a run is placed. Whether any node of the cluster could ever hold a request
is answered here too, from the nodes' totals and labels, so that a run that can never fit is
refused at once instead of waiting in Ray's queue forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynchy_cli.core.errors import PynchyError, UsageError
from pynchy_cli.core.runtimes.common import memory_bytes
from pynchy_cli.core.scaling.settings import RaySettings, check_label, check_resource_name

GiB = 1 << 30


@dataclass(frozen=True)
class ResourceRequest:
    cpus: float = 1.0
    memory: int | None = None  # bytes
    gpus: float = 0
    resources: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def ray_options(self) -> dict[str, Any]:
        """Actor options that make Ray reserve this for the actor's life."""
        options: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus}
        if self.memory:
            options["memory"] = self.memory
        if self.resources:
            options["resources"] = dict(self.resources)
        if self.labels:
            options["label_selector"] = dict(self.labels)
        return options

    def amounts(self) -> dict[str, float]:
        """The request in Ray's resource names, zero amounts left out."""
        wanted = {"CPU": self.cpus, "GPU": self.gpus, "memory": float(self.memory or 0)}
        wanted.update(self.resources)
        return {name: amount for name, amount in wanted.items() if amount > 0}

    def shortfall(self, resources: dict[str, float], labels: dict[str, str]) -> str | None:
        """What a node with these resources (total or free) and labels lacks, or None."""
        for key, value in self.labels.items():
            if labels.get(key) != value:
                return f"label {key}={value}"
        for name, amount in self.amounts().items():
            if resources.get(name, 0.0) + 1e-9 < amount:
                return describe_amount(name, amount)
        return None

    def describe(self) -> str:
        parts = [describe_amount(name, amount) for name, amount in self.amounts().items()]
        parts += [f"label {key}={value}" for key, value in self.labels.items()]
        return ", ".join(parts) or "nothing"


def describe_amount(name: str, amount: float) -> str:
    if name == "memory":
        return f"{amount / GiB:.1f} GiB memory"
    shown = f"{amount:g}"
    return f"{shown} {name}" if name in ("CPU", "GPU") else f"{name}={shown}"


def request_for(stored: dict[str, Any], defaults: RaySettings) -> ResourceRequest:
    """The group's own values over the [ray] defaults; resources and labels merge by key."""
    memory = stored.get("memory", defaults.memory)
    resources = {**defaults.resources, **stored.get("resources", {})}
    return ResourceRequest(
        cpus=float(stored.get("cpus", defaults.cpus)),
        memory=memory_bytes(memory) if memory else None,
        gpus=float(stored.get("gpus", defaults.gpus)),
        resources={name: amount for name, amount in resources.items() if amount > 0},
        labels={**defaults.labels, **stored.get("labels", {})},
    )


def change_resources(
    stored: dict[str, Any],
    *,
    cpus: float | None = None,
    memory: str | None = None,
    gpus: float | None = None,
    resources: list[str] | None = None,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """The group's stored request after `groups add/set` options. An empty --memory and a
    label KEY= remove that entry (the [ray] default applies again); NAME=0 asks for none."""
    changed = {**stored, "resources": dict(stored.get("resources", {}))}
    changed["labels"] = dict(stored.get("labels", {}))
    for key, value in (("cpus", cpus), ("gpus", gpus)):
        if value is not None:
            if value < 0:
                raise UsageError(f"--{key} must be 0 or more")
            changed[key] = value
    if memory is not None:
        if memory:
            try:
                memory_bytes(memory)
            except PynchyError as exc:
                raise UsageError(exc.message, "Give a size such as 512m or 4g") from None
            changed["memory"] = memory
        else:
            changed.pop("memory", None)
    for name, raw in _pairs(resources or [], "--resource NAME=N"):
        problem = check_resource_name(name)
        if problem:
            raise UsageError(problem)
        try:
            amount = float(raw)
        except ValueError:
            raise UsageError(f"--resource {name}={raw}: the amount must be a number") from None
        if amount < 0:
            raise UsageError(f"--resource {name}={raw}: the amount must be 0 or more")
        changed["resources"][name] = amount  # 0: none, whatever [ray] resources say
    for key, value in _pairs(labels or [], "--node-label KEY=VALUE"):
        if not value:
            changed["labels"].pop(key, None)
            continue
        problem = check_label(key, value)
        if problem:
            raise UsageError(problem)
        changed["labels"][key] = value
    return {key: value for key, value in changed.items() if value not in ({}, None)}


def _pairs(items: list[str], form: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{item!r} is not of the form {form.split()[-1]}", f"Use {form}")
        pairs.append((key.strip(), value.strip()))
    return pairs
