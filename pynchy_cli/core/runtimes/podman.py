"""The podman runtime, through podman-py and podman's API socket.

Every container runs with no new privileges, all capabilities dropped, podman's init as
PID 1 (so SIGTERM reaches the agent), the configured cpu and memory limits and, unless the
spec grants network, no network namespace but `lo`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import podman
import requests
from podman.errors import APIError, NotFound

from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.runtimes.base import LABEL, ContainerHandle, ContainerSpec
from pynchy_cli.core.runtimes.common import (
    DONE_STATES,
    IMAGE_HINT,
    ExitCodes,
    exit_code_of,
    follow_lines,
    ignoring_gone,
    labels_of,
    memory_bytes,
    poll_exit,
    start_error,
    text_lines,
)
from pynchy_cli.core.runtimes.detect import RUNTIME_HINT, EngineSocket

CPU_PERIOD = 100_000  # microseconds; podman-py ignores nano_cpus, so the quota is per period


class PodmanRuntime:
    name = "podman"
    isolated = True

    def __init__(self, engine: EngineSocket, timeout: int = 60):
        self.engine = engine
        self.client = podman.PodmanClient(base_url=engine.url, timeout=timeout)
        self._exits = ExitCodes()

    # --- errors ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reach(self) -> Iterator[None]:
        """Turn 'the service is not there' into one line with a hint."""
        try:
            yield
        except APIError as exc:
            if exc.response is None and isinstance(exc.__cause__, requests.RequestException):
                raise UnavailableError(
                    f"cannot reach podman at {self.engine.url}", RUNTIME_HINT
                ) from exc
            raise

    def _get(self, handle: ContainerHandle) -> Any | None:
        for key in dict.fromkeys((handle.id, handle.name)):
            with ignoring_gone(NotFound, APIError):
                return self.client.containers.get(key)
        return None

    # --- the Runtime protocol -------------------------------------------------------------

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        with self._reach():
            if not self.client.images.exists(spec.image):
                raise UnavailableError(f"image {spec.image} is not built", IMAGE_HINT)
            kwargs: dict[str, Any] = {
                "image": spec.image,
                "command": list(spec.command),
                "name": spec.name,
                "environment": dict(spec.env),
                "mounts": [
                    {
                        "type": "bind",
                        "source": m.source,
                        "target": m.target,
                        "read_only": m.read_only,
                    }
                    for m in spec.mounts
                ],
                "labels": labels_of(spec),
                "working_dir": spec.workdir,
                "cpu_period": CPU_PERIOD,
                "cpu_quota": max(int(spec.cpus * CPU_PERIOD), 1000),
                "mem_limit": memory_bytes(spec.memory),
                # podman-py maps security_opt to SELinux options; this is the real flag.
                "no_new_privileges": True,
                "cap_drop": ["ALL"],
                # Python as PID 1 ignores SIGTERM: without an init every stop waited out the grace.
                "init": True,
            }
            if not spec.network:
                kwargs["network_mode"] = "none"
            if spec.user:
                kwargs["user"] = spec.user
            try:
                container = self.client.containers.create(**kwargs)
            except APIError as exc:
                if exc.response is None:
                    raise
                raise start_error("podman", spec, exc.explanation or str(exc)) from exc
            try:
                container.start()
            except APIError as exc:
                with contextlib.suppress(APIError):
                    container.remove(force=True)
                if exc.response is None:
                    raise
                raise start_error("podman", spec, exc.explanation or str(exc)) from exc
        return ContainerHandle(name=spec.name, id=container.id, runtime=self.name)

    def _exit_code(self, handle: ContainerHandle) -> int | None:
        return exit_code_of(self._get(handle), self._exits, handle)

    def wait(self, handle: ContainerHandle, timeout: float | None) -> int | None:
        with self._reach():
            return poll_exit(lambda: self._exit_code(handle), timeout)

    def stop(self, handle: ContainerHandle, grace: float = 5.0) -> None:
        with self._reach():
            container = self._get(handle)
            if container is None:
                return
            # podman stop sends SIGTERM, then SIGKILL after `timeout` seconds.
            with ignoring_gone(NotFound, APIError):
                container.stop(timeout=max(math.ceil(grace), 0), ignore=True)
            with ignoring_gone(NotFound, APIError):
                container.reload()
                state = container.attrs.get("State") or {}
                if state.get("Status") in DONE_STATES:
                    self._exits.put((container.id, handle.id, handle.name), state["ExitCode"])
            self._remove(container)

    def _remove(self, container: Any) -> None:
        with ignoring_gone(NotFound, APIError):
            container.remove(force=True)

    def logs(self, handle: ContainerHandle, follow: bool = False) -> Iterator[str]:
        """stdout and stderr lines so far; with follow=True, until the container exits."""
        with self._reach():
            container = self._get(handle)
            if container is None:
                return iter(())
            if not follow:
                return iter(text_lines(container.logs(stdout=True, stderr=True)))
            stream = container.logs(stdout=True, stderr=True, stream=True, follow=True)
        return follow_lines(stream)

    def remove(self, handle: ContainerHandle) -> None:
        with self._reach():
            container = self._get(handle)
            if container is not None:
                self._remove(container)

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        with self._reach():
            found = self.client.containers.list(all=True, filters={"label": LABEL})
        out = []
        for container in found:
            attrs = container.attrs
            names = attrs.get("Names") or [container.id]
            labels = attrs.get("Labels") or {}
            state = attrs.get("State")
            state = state.get("Status", "") if isinstance(state, dict) else str(state or "")
            out.append((names[0].lstrip("/"), labels.get(LABEL, ""), state))
        return out

    def cleanup_orphans(self, keep: set[str]) -> list[str]:
        removed = []
        for name, run_id, _state in self.list_pynchy():
            if run_id in keep:
                continue
            with self._reach(), ignoring_gone(NotFound, APIError):
                self.client.containers.remove(name, force=True)
                removed.append(name)
        return removed

    def close(self) -> None:
        self.client.close()
