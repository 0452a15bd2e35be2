"""The image the agent image is built FROM: chosen, pulled, or debootstrapped on the spot.

Order: an explicit base, $PYNCHY_BASE_IMAGE, localhost/pynchy-base:bookworm if present,
python:3.12-slim (present or pulled), and last a Debian bookworm base built with
debootstrap by container/build-base.sh, for machines that cannot reach an image registry.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.runtimes.detect import EngineSocket
from pynchy_cli.core.runtimes.engine_cli import OnLine, engine_command, run_streaming
from pynchy_cli.core.runtimes.engine_images import image_exists
from pynchy_cli.core.runtimes.images import BUILD_BASE_SCRIPT, container_dir

DEBOOTSTRAP_BASE = "localhost/pynchy-base:bookworm"
PULL_BASE = "docker.io/library/python:3.12-slim"
BASE_ENV = "PYNCHY_BASE_IMAGE"
REGISTRY_PROBE = ("registry-1.docker.io", 443)
PROBE_TIMEOUT = 5.0  # seconds to find out whether the registry is reachable at all
PULL_TIMEOUT = 900.0  # seconds for the pull itself once the registry answered


def choose_base(engine: EngineSocket, base: str | None = None, *, on_line: OnLine) -> str:
    """The base image to build FROM, pulling or building one if none is available."""
    if base:
        return base
    from_env = os.environ.get(BASE_ENV, "").strip()
    if from_env:
        on_line(f"base image {from_env} (from ${BASE_ENV})")
        return from_env
    for present in (DEBOOTSTRAP_BASE, PULL_BASE):
        if image_exists(engine, present):
            return present
    if pull(engine, PULL_BASE, on_line):
        return PULL_BASE
    on_line(f"cannot pull {PULL_BASE}; building {DEBOOTSTRAP_BASE} with debootstrap instead")
    build_debootstrap_base(engine, DEBOOTSTRAP_BASE, on_line)
    return DEBOOTSTRAP_BASE


def registry_reachable(host: str = REGISTRY_PROBE[0], port: int = REGISTRY_PROBE[1]) -> bool:
    """A quick TCP probe, so that a machine without registry access fails fast.

    Behind a proxy (HTTPS_PROXY set) the engine may still get through, so say yes.
    """
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy")):
        return True
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def pull(engine: EngineSocket, ref: str, on_line: OnLine) -> bool:
    """Pull ref through the engine; False (never an exception) when it cannot be had."""
    if not registry_reachable():
        on_line(f"image registry {REGISTRY_PROBE[0]} is not reachable")
        return False
    on_line(f"pulling {ref}")
    done = run_streaming([*engine_command(engine), "pull", ref], on_line, timeout=PULL_TIMEOUT)
    return done.returncode == 0 and image_exists(engine, ref)


def _debootstrap_path() -> str | None:
    found = shutil.which("debootstrap")
    if found:
        return found
    for path in ("/usr/sbin/debootstrap", "/sbin/debootstrap"):
        if os.access(path, os.X_OK):
            return path
    return None


def _root_prefix() -> list[str]:
    """[] as root, ['sudo', '-n'] if passwordless sudo works; else explain what to do."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n"]
    raise UnavailableError(
        f"no base image to build from, and building {DEBOOTSTRAP_BASE} with debootstrap needs root",
        f"Run once as root: sudo {container_dir() / BUILD_BASE_SCRIPT}, or set {BASE_ENV} "
        "to an image you have",
    )


def build_debootstrap_base(
    engine: EngineSocket, tag: str = DEBOOTSTRAP_BASE, on_line: OnLine | None = None
) -> None:
    """debootstrap a minimal Debian bookworm and import it as `tag` (root, about a minute)."""
    if _debootstrap_path() is None:
        raise UnavailableError(
            f"no base image to build from, and debootstrap (needed to build {tag}) "
            "is not installed",
            f"Install it with: sudo apt-get install -y debootstrap (or sudo scripts/setup-podman),"
            f" or set {BASE_ENV} to an image you have",
        )
    prefix = _root_prefix()
    script = container_dir() / BUILD_BASE_SCRIPT
    argv = [*prefix, "bash", str(script), tag, "--", *engine_command(engine)]
    done = run_streaming(argv, on_line)
    if done.returncode != 0 or not image_exists(engine, tag):
        raise UnavailableError(
            f"building the base image {tag} failed ({done.last_line or 'no output'})",
            "See the output above; PYNCHY_DEBIAN_MIRROR picks another Debian mirror",
        )
