"""Pieces the podman and docker runtimes share: limits, labels, log lines, errors, polling."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pynchy_cli.core.errors import ConfigError, ConflictError, PynchyError, UnavailableError
from pynchy_cli.core.runtimes.base import LABEL, ContainerHandle, ContainerSpec

IMAGE_HINT = "Run: pynchy agent image build"
# wait() on a container that someone else removed before its exit code was read: reported as
# killed (128 + SIGKILL), since that is what `pynchy agent stop` from another process does.
EXIT_GONE = 137
DONE_STATES = ("exited", "stopped", "dead")

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def memory_bytes(value: str | int) -> int:
    """'512m', '1g', '1.5GiB', '1048576' -> bytes."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value)
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(
            f"invalid memory limit {value!r}", "Set limits.memory to a size such as 512m or 2g"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def nano_cpus(cpus: float) -> int:
    return max(int(cpus * 1e9), 1_000_000)


def labels_of(spec: ContainerSpec) -> dict[str, str]:
    """The spec's labels; every container carries LABEL (the run id, else the name)."""
    return {LABEL: spec.name, **spec.labels}


def text_lines(chunks: bytes | Iterable[bytes]) -> list[str]:
    data = chunks if isinstance(chunks, bytes) else b"".join(chunks)
    return data.decode("utf-8", errors="replace").splitlines()


def follow_lines(stream: Iterable[bytes]) -> Iterator[str]:
    """Chunks of a followed log stream, re-cut into lines."""
    pending = b""
    for chunk in stream:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


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


class ExitCodes:
    """Exit codes of containers this runtime stopped and removed, so wait() can still answer."""

    def __init__(self, size: int = 512):
        self._codes: OrderedDict[str, int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def put(self, keys: Iterable[str], code: int) -> None:
        with self._lock:
            for key in keys:
                self._codes[key] = code
                self._codes.move_to_end(key)
            while len(self._codes) > self._size:
                self._codes.popitem(last=False)

    def get(self, *keys: str) -> int | None:
        with self._lock:
            for key in keys:
                if key in self._codes:
                    return self._codes[key]
        return None


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


def exit_code_of(container: Any | None, exits: ExitCodes, handle: ContainerHandle) -> int | None:
    """The exit code of an inspected container (docker-py or podman-py object), None while
    it runs; a container already removed answers with its remembered code, or EXIT_GONE."""
    if container is None:
        code = exits.get(handle.id, handle.name)
        return EXIT_GONE if code is None else code
    state = container.attrs.get("State") or {}
    if state.get("Status") in DONE_STATES:
        return int(state.get("ExitCode", 0))
    return None


def poll_exit(exit_code: Callable[[], int | None], timeout: float | None) -> int | None:
    """Call `exit_code` (None while running) until it answers or `timeout` seconds pass.

    Polling inspect instead of the engine's blocking wait endpoint: a wait request cut by a
    client timeout keeps waiting inside the service, one per call, until the container exits.
    """
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    delay = 0.02
    while True:
        code = exit_code()
        if code is not None:
            return code
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(delay, remaining))
        else:
            time.sleep(delay)
        delay = min(delay * 2, 0.25)
