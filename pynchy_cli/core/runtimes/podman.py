"""The podman runtime, through podman-py and podman's API socket.

Every container runs with no new privileges, all capabilities dropped, podman's init as
PID 1 (so SIGTERM reaches the agent), the configured cpu and memory limits and, unless the
spec grants network, no network namespace but `lo` (the shared part is in engine.py).
"""

from __future__ import annotations

from typing import Any

import podman
import requests
from podman.errors import APIError, NotFound

from pynchy_cli.core.errors import PynchyError, UnavailableError
from pynchy_cli.core.runtimes.base import LABEL, ContainerHandle, ContainerSpec
from pynchy_cli.core.runtimes.common import IMAGE_HINT
from pynchy_cli.core.runtimes.engine import EngineRuntime, start_error

CPU_PERIOD = 100_000  # microseconds; podman-py ignores nano_cpus, so the quota is per period


class PodmanRuntime(EngineRuntime):
    name = "podman"
    engine_name = "podman"
    not_found = NotFound
    api_error = APIError

    def _connect(self) -> Any:
        return podman.PodmanClient(base_url=self.engine.url, timeout=self._timeout)

    def _unreachable(self, exc: Exception) -> bool:
        # podman-py wraps a failed connection in an APIError without a response.
        return (
            isinstance(exc, APIError)
            and exc.response is None
            and isinstance(exc.__cause__, requests.RequestException)
        )

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        with self._reach():
            if not self.client.images.exists(spec.image):
                raise UnavailableError(f"image {spec.image} is not built", IMAGE_HINT)
        return super().start(spec)

    def _create(self, spec: ContainerSpec) -> Any:
        return self.client.containers.create(
            image=spec.image,
            command=list(spec.command),
            mounts=[
                {"type": "bind", "source": m.source, "target": m.target, "read_only": m.read_only}
                for m in spec.mounts
            ],
            cpu_period=CPU_PERIOD,
            cpu_quota=max(int(spec.cpus * CPU_PERIOD), 1000),
            # podman-py maps security_opt to SELinux options; this is the real flag.
            no_new_privileges=True,
            devices=list(spec.devices),
            **self._create_options(spec),
        )

    def _start_failure(self, spec: ContainerSpec, exc: Exception) -> PynchyError | None:
        if getattr(exc, "response", None) is None:
            return None  # no answer at all: _reach tells whether podman is there
        return start_error(self.engine_name, spec, getattr(exc, "explanation", None) or str(exc))

    def _stop_container(self, container: Any, seconds: int) -> None:
        container.stop(timeout=seconds, ignore=True)

    def _list_labelled(self) -> list[Any]:
        return self.client.containers.list(all=True, filters={"label": LABEL})

    def _remove_named(self, name: str) -> None:
        self.client.containers.remove(name, force=True)

    def _ask_rootless(self) -> bool:
        return bool(self.client.info().get("host", {}).get("security", {}).get("rootless"))

    def _user_options(self, user: str, rootless: bool) -> dict[str, Any]:
        # keep-id: the host uid is the same uid inside, so the workspace stays its own.
        return {"user": user, "userns_mode": "keep-id"} if rootless else {"user": user}
