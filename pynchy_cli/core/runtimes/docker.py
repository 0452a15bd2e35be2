"""The docker runtime, through docker-py and a Docker-API socket (Docker's, or podman's).

The same confinement as the podman runtime: no new privileges, all capabilities dropped,
an init as PID 1, cpu and memory limits, and `--network none` unless the spec grants network
(the shared part is in engine.py).
"""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
import requests
from docker.types import Mount as DockerMount

from pynchy_cli.core.errors import PynchyError, UnavailableError
from pynchy_cli.core.runtimes.base import LABEL, ContainerSpec
from pynchy_cli.core.runtimes.common import IMAGE_HINT, nano_cpus
from pynchy_cli.core.runtimes.engine import EngineRuntime, start_error


class DockerRuntime(EngineRuntime):
    name = "docker"
    not_found = docker.errors.NotFound
    api_error = docker.errors.APIError

    def _connect(self) -> Any:
        return docker.DockerClient(base_url=self.engine.url, timeout=self._timeout)

    def _unreachable(self, exc: Exception) -> bool:
        if isinstance(exc, requests.ConnectionError):
            return True
        return isinstance(exc, docker.errors.DockerException) and not isinstance(
            exc, docker.errors.APIError
        )

    def _create(self, spec: ContainerSpec) -> Any:
        return self.client.containers.create(
            spec.image,
            list(spec.command),
            mounts=[
                DockerMount(m.target, m.source, type="bind", read_only=m.read_only)
                for m in spec.mounts
            ],
            nano_cpus=nano_cpus(spec.cpus),
            security_opt=["no-new-privileges"],
            detach=True,
            **self._create_options(spec),
        )

    def _start_failure(self, spec: ContainerSpec, exc: Exception) -> PynchyError | None:
        if isinstance(exc, docker.errors.ImageNotFound):
            return UnavailableError(f"image {spec.image} is not built", IMAGE_HINT)
        explanation = getattr(exc, "explanation", None) or str(exc)
        return start_error(self.engine_name, spec, explanation)

    def _stop_container(self, container: Any, seconds: int) -> None:
        container.stop(timeout=seconds)

    def _list_labelled(self) -> list[Any]:
        return self.client.containers.list(
            all=True, sparse=True, filters={"label": LABEL}, ignore_removed=True
        )

    def _remove_named(self, name: str) -> None:
        self.client.api.remove_container(name, force=True)

    def _ask_rootless(self) -> bool:
        options = self.client.info().get("SecurityOptions") or []
        return any("name=rootless" in option for option in options)

    def _user_options(self, user: str, rootless: bool) -> dict[str, Any]:
        # No keep-id here: a rootless engine's root is the host user, whose files these are.
        return {"user": "0:0"} if rootless else {"user": user}
