"""Small pieces every container runtime needs, built in or from a plugin: memory and cpu
limits, the labels a container carries, and its log output cut into lines."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from pynchy_cli.core.errors import ConfigError
from pynchy_cli.core.runtimes.base import LABEL, ContainerSpec

IMAGE_HINT = "Run: pynchy agent image build"
# wait() on a container that someone else removed before its exit code was read: reported as
# killed (128 + SIGKILL), since that is what `pynchy agent stop` from another process does.
EXIT_GONE = 137

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def memory_bytes(value: str | int) -> int:
    """'512m', '1g', '1.5GiB', '1048576' -> bytes."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(str(value))
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
