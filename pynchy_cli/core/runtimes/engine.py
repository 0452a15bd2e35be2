"""What the engine-API runtimes share: podman (podman-py) and docker (docker-py).

Both clients hand back container objects of the same shape (attrs, reload, stop, remove,
logs), so everything but connecting, creating and listing lives here. Every container runs
with all capabilities dropped, an init as PID 1, the configured limits and, unless the spec
grants network, `--network none`; each subclass adds no-new-privileges and the cpu limit in
its client's terms.

The spec's user is a host uid:gid (core/agent/agent_user.py), which a rootful engine uses
as is. A rootless engine (one run by an ordinary user, its container root being that user)
maps it: podman with `--userns=keep-id`, so the host uid is the same uid inside; Docker has
no keep-id, so there the agent runs as the container's root, which is the host user outside.
Rootless is asked of the engine once per socket, and only when pynchy is not root.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from typing import Any

from pynchy_cli.core.errors import ConflictError, PynchyError, UnavailableError
from pynchy_cli.core.runtimes.base import LABEL, ContainerHandle, ContainerSpec
from pynchy_cli.core.runtimes.common import (
    IMAGE_HINT,
    follow_lines,
    labels_of,
    memory_bytes,
    text_lines,
)
from pynchy_cli.core.runtimes.detect import RUNTIME_HINT, EngineSocket
from pynchy_cli.core.runtimes.polling import PollingRuntime

DONE_STATES = ("exited", "stopped", "dead")

_rootless: dict[str, bool] = {}  # engine socket url -> its engine runs rootless


def start_error(engine: str, spec: ContainerSpec, explanation: str) -> PynchyError:
    """A create/start failure the engine explained, as a user-facing error."""
    text = " ".join(str(explanation).split())
    if "already in use" in text:
        return ConflictError(
            f"a container named {spec.name} already exists",
            f"Remove it: {engine} rm -f {spec.name}",
        )
    if "image not known" in text or "no such image" in text.lower():
        return UnavailableError(f"image {spec.image} is not built", IMAGE_HINT)
    return UnavailableError(
        f"{engine} could not start {spec.name}: {text[:300]}",
        f"Check the mounts and image, and `{engine} info`",
    )


@contextlib.contextmanager
def ignoring_gone(not_found: type[Exception], api_error: type[Exception]) -> Iterator[None]:
    """Treat a container that is already gone as done. podman answers some calls on a
    container being removed with a plain 500 "no such container", not a 404."""
    try:
        yield
    except not_found:
        pass
    except api_error as exc:
        if "no such container" not in str(exc).lower():
            raise


class EngineRuntime(PollingRuntime):
    """A container engine behind an HTTP API socket, through its Python client.

    A subclass sets `name`, `not_found` and `api_error` (its client's exceptions) and gives
    _connect, _unreachable, _create, _start_failure, _stop_container, _list_labelled and
    _remove_named.
    """

    name: str
    isolated = True
    not_found: type[Exception]
    api_error: type[Exception]

    def __init__(self, engine: EngineSocket, timeout: int = 60):
        super().__init__()
        self.engine = engine
        self._timeout = timeout
        self._client: Any | None = None
        self._lock = threading.Lock()

    @property
    def engine_name(self) -> str:
        """The engine as messages and hints name it."""
        return self.engine.kind

    @property
    def client(self) -> Any:
        """Connected on first use: docker-py asks the engine for its API version right away."""
        with self._lock:
            if self._client is None:
                with self._reach():
                    self._client = self._connect()
            return self._client

    # --- what differs between the clients -------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def _unreachable(self, exc: Exception) -> bool:
        """True when `exc` means the engine's socket did not answer at all."""
        raise NotImplementedError

    def _create(self, spec: ContainerSpec) -> Any:
        """Create (not start) the container; _create_options(spec) holds what both share."""
        raise NotImplementedError

    def _start_failure(self, spec: ContainerSpec, exc: Exception) -> PynchyError | None:
        """The user-facing error for a failed create or start; None re-raises `exc`."""
        raise NotImplementedError

    def _stop_container(self, container: Any, seconds: int) -> None:
        raise NotImplementedError

    def _list_labelled(self) -> list[Any]:
        """Every container, running or not, that carries LABEL."""
        raise NotImplementedError

    def _remove_named(self, name: str) -> None:
        raise NotImplementedError

    def _ask_rootless(self) -> bool:
        """Ask the engine whether it runs without root."""
        raise NotImplementedError

    def _user_options(self, user: str, rootless: bool) -> dict[str, Any]:
        """create() arguments that run the container as host `user` (see the module doc)."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reach(self) -> Iterator[None]:
        """Turn 'the service is not there' into one line with a hint."""
        try:
            yield
        except Exception as exc:
            if self._unreachable(exc):
                raise UnavailableError(
                    f"cannot reach {self.engine_name} at {self.engine.url}", RUNTIME_HINT
                ) from exc
            raise

    def _gone(self) -> contextlib.AbstractContextManager[None]:
        return ignoring_gone(self.not_found, self.api_error)

    @property
    def rootless(self) -> bool:
        """The engine runs as an ordinary user. Never asked when pynchy is root: root's
        engine is rootful."""
        if os.geteuid() == 0:
            return False
        url = self.engine.url
        if url not in _rootless:
            with self._reach():
                _rootless[url] = self._ask_rootless()
        return _rootless[url]

    def _get(self, handle: ContainerHandle) -> Any | None:
        for key in dict.fromkeys((handle.id, handle.name)):
            with self._gone():
                return self.client.containers.get(key)
        return None

    def _create_options(self, spec: ContainerSpec) -> dict[str, Any]:
        """The create() arguments both clients spell alike."""
        options: dict[str, Any] = {
            "name": spec.name,
            "environment": dict(spec.env),
            "labels": labels_of(spec),
            "working_dir": spec.workdir,
            "mem_limit": memory_bytes(spec.memory),
            "cap_drop": ["ALL"],
            # Python as PID 1 ignores SIGTERM: without an init every stop waited out the grace.
            "init": True,
        }
        if not spec.network:
            options["network_mode"] = "none"
        if spec.user:
            options.update(self._user_options(spec.user, self.rootless))
        return options

    def start(self, spec: ContainerSpec) -> ContainerHandle:
        with self._reach():
            try:
                container = self._create(spec)
            except self.api_error as exc:
                failure = self._start_failure(spec, exc)
                if failure is None:
                    raise
                raise failure from exc
            try:
                container.start()
            except self.api_error as exc:
                with contextlib.suppress(self.api_error):
                    container.remove(force=True)
                failure = self._start_failure(spec, exc)
                if failure is None:
                    raise
                raise failure from exc
        return ContainerHandle(name=spec.name, id=container.id, runtime=self.name)

    def _exit_code(self, handle: ContainerHandle) -> int | None:
        container = self._get(handle)
        if container is None:
            return self._remembered_exit(handle)
        state = container.attrs.get("State") or {}
        if state.get("Status") in DONE_STATES:
            return int(state.get("ExitCode", 0))
        return None

    def stop(self, handle: ContainerHandle, grace: float = 5.0) -> None:
        with self._reach():
            container = self._get(handle)
            if container is None:
                return
            # stop sends SIGTERM, then SIGKILL after that many seconds.
            with self._gone():
                self._stop_container(container, max(math.ceil(grace), 0))
            with self._gone():
                container.reload()
                state = container.attrs.get("State") or {}
                if state.get("Status") in DONE_STATES:
                    self._remember_exit(state["ExitCode"], container.id, handle.id, handle.name)
            self._remove(container)

    def _remove(self, container: Any) -> None:
        with self._gone():
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
            found = self._list_labelled()
        out = []
        for container in found:
            attrs = container.attrs
            names = attrs.get("Names") or [container.id]
            labels = attrs.get("Labels") or {}
            # podman lists the state as {"Status": ...}, Docker's API as a plain string.
            state = attrs.get("State")
            state = state.get("Status", "") if isinstance(state, dict) else str(state or "")
            out.append((names[0].lstrip("/"), labels.get(LABEL, ""), state))
        return out

    def _remove_orphan(self, name: str) -> bool:
        with self._reach(), self._gone():
            self._remove_named(name)
            return True
        return False

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
