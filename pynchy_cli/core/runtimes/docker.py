"""The docker runtime, through docker-py and a Docker-API socket (Docker's, or podman's).

The same confinement as the podman runtime: no new privileges, all capabilities dropped,
an init as PID 1, cpu and memory limits, and `--network none` unless the spec grants network.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import requests
from docker.types import Mount as DockerMount

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
    nano_cpus,
    poll_exit,
    start_error,
    text_lines,
)
from pynchy_cli.core.runtimes.detect import RUNTIME_HINT, EngineSocket


class DockerRuntime:
    name = "docker"
    isolated = True

    def __init__(self, engine: EngineSocket, timeout: int = 60):
        self.engine = engine
        self._timeout = timeout
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._exits = ExitCodes()

    @property
    def client(self) -> docker.DockerClient:
        """Connected on first use: docker-py asks the engine for its API version right away."""
        with self._lock:
            if self._client is None:
                with self._reach():
                    self._client = docker.DockerClient(
                        base_url=self.engine.url, timeout=self._timeout
                    )
            return self._client

    # --- errors ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reach(self) -> Iterator[None]:
        try:
            yield
        except requests.ConnectionError as exc:
            raise UnavailableError(
                f"cannot reach {self.engine.kind} at {self.engine.url}", RUNTIME_HINT
            ) from exc
        except docker.errors.DockerException as exc:
            if isinstance(exc, docker.errors.APIError):
                raise
            raise UnavailableError(
                f"cannot reach {self.engine.kind} at {self.engine.url}", RUNTIME_HINT
            ) from exc

    def _get(self, handle: ContainerHandle) -> Any | None:
        for key in dict.fromkeys((handle.id, handle.name)):
            with ignoring_gone(docker.errors.NotFound, docker.errors.APIError):
                return self.client.containers.get(key)
        return None

    # --- the Runtime protocol -------------------------------------------------------------

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        kwargs: dict[str, Any] = {
            "name": spec.name,
            "environment": dict(spec.env),
            "mounts": [
                DockerMount(m.target, m.source, type="bind", read_only=m.read_only)
                for m in spec.mounts
            ],
            "labels": labels_of(spec),
            "working_dir": spec.workdir,
            "nano_cpus": nano_cpus(spec.cpus),
            "mem_limit": memory_bytes(spec.memory),
            "security_opt": ["no-new-privileges"],
            "cap_drop": ["ALL"],
            # Python as PID 1 ignores SIGTERM: without an init every stop waited out the grace.
            "init": True,
            "detach": True,
        }
        if not spec.network:
            kwargs["network_mode"] = "none"
        if spec.user:
            kwargs["user"] = spec.user
        with self._reach():
            try:
                container = self.client.containers.create(spec.image, list(spec.command), **kwargs)
            except docker.errors.ImageNotFound as exc:
                raise UnavailableError(f"image {spec.image} is not built", IMAGE_HINT) from exc
            except docker.errors.APIError as exc:
                raise start_error(self.engine.kind, spec, exc.explanation or str(exc)) from exc
            try:
                container.start()
            except docker.errors.APIError as exc:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
                raise start_error(self.engine.kind, spec, exc.explanation or str(exc)) from exc
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
            # stop sends SIGTERM, then SIGKILL after `timeout` seconds.
            with ignoring_gone(docker.errors.NotFound, docker.errors.APIError):
                container.stop(timeout=max(math.ceil(grace), 0))
            with ignoring_gone(docker.errors.NotFound, docker.errors.APIError):
                container.reload()
                state = container.attrs.get("State") or {}
                if state.get("Status") in DONE_STATES:
                    self._exits.put((container.id, handle.id, handle.name), state["ExitCode"])
            with ignoring_gone(docker.errors.NotFound, docker.errors.APIError):
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
                with ignoring_gone(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True)

    def list_pynchy(self) -> list[tuple[str, str, str]]:
        with self._reach():
            found = self.client.containers.list(
                all=True, sparse=True, filters={"label": LABEL}, ignore_removed=True
            )
        out = []
        for container in found:
            attrs = container.attrs
            names = attrs.get("Names") or [container.id]
            labels = attrs.get("Labels") or {}
            out.append((names[0].lstrip("/"), labels.get(LABEL, ""), str(attrs.get("State", ""))))
        return out

    def cleanup_orphans(self, keep: set[str]) -> list[str]:
        removed = []
        for name, run_id, _state in self.list_pynchy():
            if run_id in keep:
                continue
            with self._reach(), ignoring_gone(docker.errors.NotFound, docker.errors.APIError):
                self.client.api.remove_container(name, force=True)
                removed.append(name)
        return removed

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
