"""Where a running `pynchy serve` listens, recorded in the data folder (`serve.json`), so
that `pynchy chat` finds it whatever --host, --port or --socket it was started with.

The file is private (600, like the API token beside it), written when the API listens
and removed on a clean stop; one left by a serve that died (its pid is gone) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pynchy_cli.core.db import utcnow
from pynchy_cli.core.file_modes import PRIVATE_FILE
from pynchy_cli.core.paths import Paths

ENDPOINT_FILE = "serve.json"
# A serve listening on every address is reached on loopback.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True)
class Endpoint:
    url: str | None  # http://HOST:PORT, or None when serve listens on a unix socket
    socket: str | None
    pid: int
    started_at: str


def endpoint_file(paths: Paths) -> Path:
    return paths.data_dir / ENDPOINT_FILE


def http_url(host: str, port: int) -> str:
    host = _LOOPBACK.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def record_endpoint(paths: Paths, *, host: str, port: int, socket: str | None) -> Endpoint:
    """Record this process's API address (replacing any earlier record, atomically)."""
    endpoint = Endpoint(
        url=None if socket else http_url(host, port),
        socket=str(Path(socket).resolve()) if socket else None,
        pid=os.getpid(),
        started_at=utcnow(),
    )
    target = endpoint_file(paths)
    scratch = target.with_name(f".{ENDPOINT_FILE}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        scratch.unlink()
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(endpoint), fh)
    os.replace(scratch, target)
    return endpoint


def remove_endpoint(paths: Paths) -> None:
    """On a clean stop: remove the record if it is still this process's."""
    found = _read(endpoint_file(paths))
    if found is not None and found.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            endpoint_file(paths).unlink()


def running_endpoint(paths: Paths) -> Endpoint | None:
    """The address of the serve that runs now, or None (no record, or its process is gone)."""
    found = _read(endpoint_file(paths))
    return found if found is not None and _alive(found.pid) else None


def _read(path: Path) -> Endpoint | None:
    try:
        data = json.loads(path.read_text())
        return Endpoint(
            url=data.get("url"),
            socket=data.get("socket"),
            pid=int(data["pid"]),
            started_at=str(data.get("started_at", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, unreadable or not ours: as if no serve had recorded one


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
