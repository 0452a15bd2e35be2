"""Choosing the runtime a run uses, and naming its container."""

from __future__ import annotations

import re
import threading

from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import DeniedError, UsageError
from pynchy_cli.core.runtimes.base import Runtime
from pynchy_cli.core.runtimes.detect import find_engine

KINDS = ("auto", "podman", "docker", "process")
PROCESS_HINT = "Set allow_process_runtime = true (development only) or use --runtime podman"

_process_runtime = None
_process_lock = threading.Lock()


def container_name(group: str, run_id: str) -> str:
    """pynchy-<group>-<run id>, with anything outside [a-zA-Z0-9_.-] replaced by '-'."""
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", f"pynchy-{group}-{run_id}")


def get_runtime(settings: Settings, override: str | None = None) -> Runtime:
    """The runtime named by `override` (--runtime) or settings.runtime.

    `process` needs settings.allow_process_runtime and is one instance per host process (it
    tracks its children in memory). `auto` takes the first engine socket that answers,
    podman before docker; `podman` and `docker` look only for their own kind of socket.
    """
    kind = override or settings.runtime
    if kind not in KINDS:
        raise UsageError(f"unknown runtime {kind!r}", f"Use one of: {', '.join(KINDS)}")
    if kind == "process":
        if not settings.allow_process_runtime:
            raise DeniedError("the process runtime runs agents without isolation", PROCESS_HINT)
        return _shared_process_runtime()
    engine = find_engine(settings.container_socket, kind)
    if engine.kind == "podman":
        from pynchy_cli.core.runtimes.podman import PodmanRuntime

        return PodmanRuntime(engine)
    from pynchy_cli.core.runtimes.docker import DockerRuntime

    return DockerRuntime(engine)


def _shared_process_runtime() -> Runtime:
    global _process_runtime
    from pynchy_cli.core.runtimes.process import ProcessRuntime

    with _process_lock:
        if _process_runtime is None:
            _process_runtime = ProcessRuntime()
        return _process_runtime
