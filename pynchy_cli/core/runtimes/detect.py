"""Find a container engine's API socket: configured, from the environment, or well known."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.errors import UnavailableError

RUNTIME_HINT = (
    "Install podman and start its API: podman system service --time=0 "
    "unix:///run/podman/podman.sock & (or set container_socket in config.toml)"
)


@dataclass(frozen=True)
class EngineSocket:
    kind: str  # podman | docker
    url: str  # unix:///path

    @property
    def path(self) -> str:
        return self.url.removeprefix("unix://")


def _candidates(configured: str | None, want: str | None) -> list[EngineSocket]:
    out: list[EngineSocket] = []

    def add(url: str | None, kind: str | None = None) -> None:
        if not url or not url.startswith(("unix://", "/")):
            return
        url = url if url.startswith("unix://") else "unix://" + url
        guessed = kind or ("podman" if "podman" in url else "docker")
        out.append(EngineSocket(guessed, url))

    if configured:  # an explicit socket is the only one tried
        add(configured, want if want in ("podman", "docker") else None)
        return out
    if want in (None, "auto", "podman"):
        add(os.environ.get("CONTAINER_HOST"), "podman")
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
        if runtime_dir:
            add(f"{runtime_dir}/podman/podman.sock", "podman")
        add("/run/podman/podman.sock", "podman")
    if want in (None, "auto", "docker"):
        add(os.environ.get("DOCKER_HOST"), "docker")
        add("/var/run/docker.sock", "docker")
    return out


def socket_answers(path: str, timeout: float = 2.0) -> bool:
    """True if an HTTP engine answers GET /_ping on this unix socket."""
    if not Path(path).exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


def find_engine(configured: str | None = None, want: str | None = None) -> EngineSocket:
    tried = []
    for candidate in _candidates(configured, want):
        if socket_answers(candidate.path):
            return candidate
        tried.append(candidate.path)
    what = want if want in ("podman", "docker") else "container runtime"
    raise UnavailableError(f"no {what} found (tried {', '.join(tried) or 'nothing'})", RUNTIME_HINT)
