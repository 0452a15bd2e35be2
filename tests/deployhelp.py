"""What the deploy tests share: running `pynchy deploy`, a frozen copy of the checkout,
debootstrapped roots, and this machine's network settings for pip on a target."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYNCHY = Path(sys.executable).with_name("pynchy")
CACHE = Path(os.environ.get("PYNCHY_TEST_CACHE", "/var/cache/pynchy-test"))
MIRROR = os.environ.get("PYNCHY_DEBIAN_MIRROR", "http://deb.debian.org/debian")
ROOTFS_TAR = CACHE / "bookworm-minbase.tar"
TARGET_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # Debian's, on the target
# pip settings that reach an index from anywhere; find-links, constraints and file:// indexes
# name this machine's disk and are left out.
_PIP_NETWORK_KEYS = {
    "index-url": "index-url",
    "extra-index-url": "extra-index-url",
    "trusted-host": "trusted-host",
    "proxy": "proxy",
    "timeout": "timeout",
    "default-timeout": "timeout",
    "retries": "retries",
}


# Every step of the deploy switched off: a test turns on the one it is about.
ALL_STEPS_OFF = {
    "pynchy_install_packages": False,
    "pynchy_create_user": False,
    "pynchy_container_runtime": False,
    "pynchy_install": False,
    "pynchy_write_config": False,
    "pynchy_build_image": False,
    "pynchy_service": False,
    "pynchy_start_services": False,
}


def run_deploy(
    *args: str, env: dict[str, str | None] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    """`pynchy deploy ARGS` as a user runs it (no terminal), output captured; `env` adds
    variables to this one's environment (None: removes one)."""
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(PYNCHY), "deploy", *args],
        env={k: v for k, v in environ.items() if v is not None},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def results_total(output: str) -> list[str]:
    """pyinfra's "Grand total" row of --> Results: hosts, success (changed), error, no change."""
    row = [line for line in output.splitlines() if line.strip().startswith("Grand total")][-1]
    return row.split()[2:]


def copy_worktree(out: Path) -> Path:
    """The working tree as git sees it (tracked and untracked, not ignored) copied to `out`,
    so every deploy of a test builds the same wheel even if files change meanwhile."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in listed)):
        src = REPO / name
        if src.is_file():
            dest = out / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    return out


def debootstrap(root: Path, include: list[str] | None = None) -> None:
    """`debootstrap --variant=minbase bookworm ROOT` (about 45 s), installing it if missing."""
    if not shutil.which("debootstrap"):
        if not shutil.which("apt-get"):
            raise RuntimeError("debootstrap is missing: install it (apt-get install debootstrap)")
        subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], check=True)
    shutil.rmtree(root, ignore_errors=True)
    cmd = ["debootstrap", "--variant=minbase"]
    if include:
        cmd.append("--include=" + ",".join(include))
    subprocess.run([*cmd, "bookworm", str(root), MIRROR], check=True, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def cache_lock(name: str = ".lock") -> Iterator[None]:
    """Held while a cached root or image is built, so concurrent test runs build it once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def pristine_rootfs_tar() -> Path:
    """A `debootstrap --variant=minbase bookworm` rootfs as a tarball, built once and cached."""
    if os.geteuid() != 0:
        pytest.fail("the deploy tests need root (debootstrap and chroot)")
    with cache_lock():
        if not ROOTFS_TAR.exists():
            build = CACHE / "rootfs.build"
            debootstrap(build)
            partial = ROOTFS_TAR.with_suffix(".partial")
            subprocess.run(["tar", "-C", str(build), "-cf", str(partial), "."], check=True)
            partial.rename(ROOTFS_TAR)
            shutil.rmtree(build, ignore_errors=True)
    return ROOTFS_TAR


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    with open("/proc/mounts") as fh:
        points = [line.split()[1] for line in fh]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


@contextlib.contextmanager
def fresh_root(root: Path) -> Iterator[Path]:
    """A fresh copy of the pristine rootfs at `root`; unmounted and deleted afterwards."""
    tar = pristine_rootfs_tar()
    root.mkdir(parents=True)
    subprocess.run(["tar", "-C", str(root), "-xf", str(tar)], check=True)
    try:
        yield root
    finally:
        for point in sorted(_mounts_under(root), reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        if not _mounts_under(root):  # never delete through a mount
            subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def chroot_inventory(folder: Path, root: Path, **data) -> Path:
    """An inventory file in `folder` with one host, the chroot at `root`, and its data."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "target.py"
    path.write_text(f"hosts = [({f'@chroot/{root}'!r}, {data!r})]\n")
    return path


def host_ca_files() -> list[str]:
    """The CA files this machine trusts beyond Debian's (its egress may inspect TLS)."""
    return sorted(glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True))


def host_pip_config() -> dict[str, dict[str, str]]:
    """This machine's pip network settings (files and PIP_* variables, as `pip config list`
    shows them) as `pynchy_pip_config` for a target.

    A CA setting becomes the target's system bundle, which the deploy extends with
    host_ca_files() (pynchy_ca_certificates).
    """
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, str] = {}
    for line in listed.splitlines():
        name, sep, value = line.partition("=")
        if not sep:
            continue
        key = name.rsplit(".", 1)[-1]
        value = value.strip().strip("'\"")
        if key == "cert":
            found["cert"] = TARGET_CA_BUNDLE
        elif key in _PIP_NETWORK_KEYS:
            kept = [v for v in value.split() if not v.startswith("file:")]
            if kept:
                found[_PIP_NETWORK_KEYS[key]] = " ".join(kept)
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy and "proxy" not in found:
        found["proxy"] = proxy
    return {"global": found} if found else {}
