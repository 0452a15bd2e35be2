"""Choosing the runtime a run uses, and naming its container.

Runtimes are registered by plugins (pynchy_runtimes); the built-in ones are the factories
below: `auto`, `podman`, `docker` and `process`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import ConfigError, DeniedError, UsageError
from pynchy_cli.core.runtimes.base import Runtime
from pynchy_cli.core.runtimes.detect import EngineSocket, find_engine

KINDS = ("auto", "podman", "docker", "process")  # the built-in runtimes
PROCESS_HINT = "Set allow_process_runtime = true (development only) or use --runtime podman"

_process_runtime = None
_process_lock = threading.Lock()


def container_name(group: str, run_id: str) -> str:
    """pynchy-<group>-<run id>, with anything outside [a-zA-Z0-9_.-] replaced by '-'."""
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", f"pynchy-{group}-{run_id}")


def runtime_names(settings: Settings | None = None) -> list[str]:
    from pynchy_cli.core.plugins.manager import plugins_for

    return list(plugins_for(settings).registry.runtimes)


def get_runtime(settings: Settings, override: str | None = None) -> Runtime:
    """The runtime named by `override` (--runtime) or settings.runtime, from the runtimes
    plugins registered (the built-ins and any installed runtime plugin)."""
    return runtime_factory(settings, override)(settings)


def runtime_factory(
    settings: Settings, override: str | None = None
) -> Callable[[Settings], Runtime]:
    """The factory of that runtime, without starting anything: an unknown name is a
    UsageError (--runtime) or a ConfigError (settings) that lists the known runtimes."""
    from pynchy_cli.core.plugins.manager import plugins_for

    kind = override or settings.runtime
    runtimes = plugins_for(settings).registry.runtimes
    factory = runtimes.get(kind)
    if factory is None:
        names = ", ".join(runtimes)
        if override:
            raise UsageError(f"unknown runtime {kind!r}", f"Use one of: {names}")
        raise ConfigError(
            f"unknown runtime {kind!r} in settings",
            f"Set runtime to one of: {names} (or install the plugin that provides it)",
        )
    return factory


# --- the built-in runtimes (registered by core.plugins.builtins) ---------------------------


def auto_runtime(settings: Settings) -> Runtime:
    """The first engine socket that answers, podman before docker."""
    return _engine_runtime(find_engine(settings.container_socket, "auto"))


def podman_runtime(settings: Settings) -> Runtime:
    return _engine_runtime(find_engine(settings.container_socket, "podman"))


def docker_runtime(settings: Settings) -> Runtime:
    return _engine_runtime(find_engine(settings.container_socket, "docker"))


def process_runtime(settings: Settings) -> Runtime:
    """Needs settings.allow_process_runtime; one instance per host process (it tracks its
    children in memory)."""
    if not settings.allow_process_runtime:
        raise DeniedError("the process runtime runs agents without isolation", PROCESS_HINT)
    return _shared_process_runtime()


def _engine_runtime(engine: EngineSocket) -> Runtime:
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
