"""The Apple Container runtime: pynchy's agent containers through Apple's `container` CLI.

Each container is its own lightweight virtual machine (macOS 26 on Apple silicon), so the
VM boundary is the isolation; there are no capability or seccomp flags to set. The flags
used, as Apple's command reference documents them:

    container run --detach --name NAME --label K=V --env K=V --volume SRC:DST[:ro]
                  --cpus N --memory NM --workdir DIR [--user U] [--network none] IMAGE CMD...
    container inspect NAME              JSON: [{"status": ..., "configuration": {...}}]
    container stop --time SECONDS NAME
    container logs NAME
    container delete --force NAME
    container list --all --format json

There is no `container wait`: wait() polls inspect until the container is stopped. Its exit
code is read from inspect's `exitCode` where the CLI reports one; older releases do not, and
then a stopped container counts as exit 0 (pynchy still fails a run that did not report a
result over its socket). `--network none` needs container 0.6 or later.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

from pynchy_cli import (
    RUN_LABEL,
    ConfigError,
    ConflictError,
    ContainerHandle,
    ContainerSpec,
    PollingRuntime,
    UnavailableError,
    follow_lines,
    labels_of,
    memory_bytes,
)

INSTALL_HINT = (
    "Install Apple's container CLI (macOS 26, Apple silicon: github.com/apple/container), "
    "then run: container system start"
)
IMAGE_HINT = (
    "Build or pull the agent image with Apple's CLI: container build / container image pull"
)


def memory_mib(value: str | int) -> int:
    """'512m', '1g', '1.5GiB', '1048576' -> MiB (Apple's granularity), at least 1."""
    return max(memory_bytes(value) >> 20, 1)


def _state(item: dict[str, Any]) -> tuple[str, int | None]:
    """(state, exit code or None) of one inspect/list entry, across CLI versions: older ones
    give "status": "running", newer ones "status": {"state": "running", ...}."""
    status = item.get("status")
    exit_code = item.get("exitCode")
    if isinstance(status, dict):
        exit_code = status.get("exitCode", exit_code)
        status = status.get("state")
    return str(status or "unknown"), exit_code if isinstance(exit_code, int) else None


def _id_and_labels(item: dict[str, Any]) -> tuple[str, dict[str, str]]:
    config = item.get("configuration") or {}
    return str(config.get("id") or item.get("id") or ""), dict(config.get("labels") or {})


class AppleContainerRuntime(PollingRuntime):
    name = "applecontainer"
    isolated = True
    max_poll_interval = 0.5  # each poll is a CLI call

    def __init__(self, executable: str = "container", poll: float = 0.1, timeout: float = 120):
        super().__init__()
        self.executable = executable
        self.poll_interval = poll
        self.timeout = timeout  # for one CLI call

    # --- command lines ----------------------------------------------------------------

    def run_argv(self, spec: ContainerSpec) -> list[str]:
        """`container run --detach ...` for a spec."""
        argv = [self.executable, "run", "--detach", "--name", spec.name]
        for key, value in labels_of(spec).items():
            argv += ["--label", f"{key}={value}"]
        for key, value in spec.env.items():
            argv += ["--env", f"{key}={value}"]
        for mount in spec.mounts:
            for path in (mount.source, mount.target):
                if ":" in path:
                    raise ConfigError(
                        f"mount path {path!r} contains ':'",
                        "Apple's --volume cannot express it; use a path without ':'",
                    )
            suffix = ":ro" if mount.read_only else ""
            argv += ["--volume", f"{mount.source}:{mount.target}{suffix}"]
        argv += ["--cpus", str(max(math.ceil(spec.cpus), 1))]
        argv += ["--memory", f"{memory_mib(spec.memory)}M"]
        argv += ["--workdir", spec.workdir]
        if spec.user:
            argv += ["--user", spec.user]
        if not spec.network:
            argv += ["--network", "none"]
        return [*argv, spec.image, *spec.command]

    def _call(self, *args: str) -> subprocess.CompletedProcess[str]:
        exe = shutil.which(self.executable)
        if exe is None:
            raise UnavailableError(f"the {self.executable} command is not installed", INSTALL_HINT)
        try:
            return subprocess.run(
                [exe, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise UnavailableError(
                f"{self.executable} {args[0]} did not answer in {self.timeout:.0f}s",
                "Check the service: container system status",
            ) from exc

    def _inspect(self, name: str) -> dict[str, Any] | None:
        done = self._call("inspect", name)
        if done.returncode != 0:
            return None
        try:
            items = json.loads(done.stdout or "[]")
        except json.JSONDecodeError:
            return None
        return items[0] if isinstance(items, list) and items else None

    # --- the Runtime protocol (calls block; pynchy runs them in threads) ----------------

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        done = self._call(*self.run_argv(spec)[1:])
        if done.returncode != 0:
            text = " ".join((done.stderr or done.stdout).split())
            if "already exists" in text:
                raise ConflictError(
                    f"a container named {spec.name} already exists",
                    f"Remove it: {self.executable} delete --force {spec.name}",
                )
            if "not found" in text.lower() and spec.image.split(":")[0] in text:
                raise UnavailableError(f"image {spec.image} is not available", IMAGE_HINT)
            raise UnavailableError(
                f"{self.executable} could not start {spec.name}: {text[:300]}",
                "Check the image and mounts, and: container system status",
            )
        lines = done.stdout.strip().splitlines()
        return ContainerHandle(
            name=spec.name, id=lines[-1] if lines else spec.name, runtime=self.name
        )

    def _exit_code(self, handle: ContainerHandle) -> int | None:
        item = self._inspect(handle.name)
        if item is None:
            return self._remembered_exit(handle)
        state, code = _state(item)
        if state == "stopped":
            return 0 if code is None else code
        return None

    def stop(self, handle: ContainerHandle, grace: float = 5.0) -> None:
        self._call("stop", "--time", str(max(math.ceil(grace), 0)), handle.name)
        item = self._inspect(handle.name)
        if item is not None:
            state, code = _state(item)
            if state == "stopped":
                self._remember_exit(0 if code is None else code, handle.name)
        self.remove(handle)

    def logs(self, handle: ContainerHandle, follow: bool = False) -> Iterator[str]:
        """stdout and stderr lines so far (follow: until the container exits)."""
        if not follow:
            done = self._call("logs", handle.name)
            return iter(done.stdout.splitlines() if done.returncode == 0 else [])
        exe = shutil.which(self.executable)
        if exe is None:
            raise UnavailableError(f"the {self.executable} command is not installed", INSTALL_HINT)
        return self._follow(exe, handle.name)

    def _follow(self, exe: str, name: str) -> Iterator[str]:
        proc = subprocess.Popen(
            [exe, "logs", "--follow", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            yield from follow_lines(proc.stdout)
        finally:
            proc.kill()
            proc.wait()

    def remove(self, handle: ContainerHandle) -> None:
        self._call("delete", "--force", handle.name)

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        done = self._call("list", "--all", "--format", "json")
        if done.returncode != 0:
            raise UnavailableError(
                f"{self.executable} list failed: {' '.join(done.stderr.split())[:300]}",
                "Check the service: container system status",
            )
        try:
            items = json.loads(done.stdout or "[]")
        except json.JSONDecodeError as exc:
            raise UnavailableError(
                f"{self.executable} list gave no JSON", "Update Apple's container CLI"
            ) from exc
        found = []
        for item in items if isinstance(items, list) else []:
            name, labels = _id_and_labels(item)
            if RUN_LABEL in labels:
                found.append((name, labels[RUN_LABEL], _state(item)[0]))
        return found

    def _remove_orphan(self, name: str) -> bool:
        self._call("delete", "--force", name)
        return True


def make_runtime(settings: Any) -> AppleContainerRuntime:
    """[plugin.applecontainer] executable = "container" (a path or a name on PATH)."""
    conf = (getattr(settings, "plugin", None) or {}).get("applecontainer", {})
    return AppleContainerRuntime(str(conf.get("executable", "container")))
