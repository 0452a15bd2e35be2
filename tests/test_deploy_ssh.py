"""`pynchy deploy` over SSH to a booted Debian with systemd: the service starts and answers.

The target is a debootstrapped bookworm with systemd and openssh-server, imported into podman
(cached under a fixed tag, so only the first run pays the ~1 min debootstrap) and booted with
`--systemd=always /sbin/init`; its port 22 is published on 127.0.0.1 only. The deployer's HOME
is a fresh folder without ~/.ssh, as on a new machine. Podman does not run inside that
container, so these deploys leave the container runtime out and allow pynchy's process runtime
(`runtime = "process"`, `allow_process_runtime = true`), with the offline echo model. pip on
the target gets what it needs here: this machine's CA files and pip network settings.
Needs root, podman, debootstrap and ssh (scripts/test installs them).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from deployhelp import (
    ALL_STEPS_OFF,
    CACHE,
    cache_lock,
    copy_worktree,
    debootstrap,
    host_ca_files,
    host_pip_config,
    results_total,
    run_deploy,
)

IMAGE = "localhost/pynchy-test-systemd:bookworm"
PACKAGES = ["systemd", "systemd-sysv", "openssh-server", "python3", "dbus"]

pytestmark = [pytest.mark.deploy, pytest.mark.podman]


def _podman(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, **kw)


def _systemd_image() -> str:
    """The booted target's image, built once per machine and kept in podman under IMAGE."""
    with cache_lock(".systemd-image.lock"):
        if _podman("image", "exists", IMAGE, check=False).returncode == 0:
            return IMAGE
        root = CACHE / "systemd.build"
        debootstrap(root, include=PACKAGES)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        _podman("import", "-q", "-", IMAGE, stdin=tar.stdout)
        assert tar.wait() == 0
        shutil.rmtree(root, ignore_errors=True)
    return IMAGE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_boot(name: str, timeout: float = 120) -> None:
    """Until systemd in the container says it finished booting (its bus may not be up yet)."""
    deadline = time.monotonic() + timeout
    while True:
        done = _podman("exec", name, "systemctl", "is-system-running", "--wait", check=False)
        if done.stdout.strip() in ("running", "degraded"):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the target did not boot: {done.stdout.strip()} {done.stderr.strip()}")
        time.sleep(0.5)


def _wait_for_ssh(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                if conn.recv(16).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"sshd on 127.0.0.1:{port} did not answer within {timeout:.0f}s")


class Booted:
    def __init__(self, name: str, port: int, key: Path):
        self.name, self.port, self.key = name, port, key

    def ssh_data(self) -> dict:
        return {"ssh_port": self.port, "ssh_user": "root", "ssh_key": str(self.key)}

    def ssh(self, home: Path, command: str, **kw) -> subprocess.CompletedProcess:
        """Run `command` on the target with the ssh client, checking the recorded host key."""
        options = [
            "-F", "/dev/null", "-i", str(self.key), "-p", str(self.port),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={home / '.ssh' / 'known_hosts'}",
        ]  # fmt: skip
        return subprocess.run(
            ["ssh", *options, "root@127.0.0.1", command],
            capture_output=True,
            text=True,
            timeout=120,
            **kw,
        )


@pytest.fixture(scope="module")
def booted(tmp_path_factory) -> Booted:
    if os.geteuid() != 0:
        pytest.fail("the booted-target deploy test needs root (podman with --systemd)")
    for tool in ("podman", "ssh", "ssh-keygen"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: run bash scripts/test, which installs it")
    image = _systemd_image()
    keys = tmp_path_factory.mktemp("ssh-key")
    key = keys / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    name = f"pynchy-test-booted-{secrets.token_hex(4)}"
    port = _free_port()
    _podman(
        "run", "-d", "--name", name, "--systemd=always", "-p", f"127.0.0.1:{port}:22",
        image, "/sbin/init",
    )  # fmt: skip
    try:
        _wait_for_boot(name)
        _podman(
            "exec", "-i", name, "sh", "-c",
            "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys",
            input=key.with_suffix(".pub").read_text(),
        )  # fmt: skip
        _wait_for_ssh(port)
        yield Booted(name, port, key)
    finally:
        _podman("kill", name, check=False)  # at once: `rm -f` waits ~15 s for systemd
        _podman("rm", "-f", name, check=False)


def _fresh_home(tmp_path: Path) -> dict[str, str | None]:
    """A deployer's environment as on a new machine: HOME without ~/.ssh, no SSH agent."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "SSH_AUTH_SOCK": None}


def test_first_ssh_deploy_records_the_host_key_and_checks_it_after(booted, tmp_path):
    env = _fresh_home(tmp_path)
    home = Path(str(env["HOME"]))
    known = home / ".ssh" / "known_hosts"
    data = {**booted.ssh_data(), **ALL_STEPS_OFF}
    args = [f"--data={k}={json.dumps(v)}" for k, v in data.items()]

    first = run_deploy("@ssh/127.0.0.1", "-y", *args, env=env)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert f"created an empty {known}" in first.stdout
    assert known.read_text().startswith(f"[127.0.0.1]:{booted.port} ssh-ed25519 ")
    assert booted.ssh(home, "true").returncode == 0  # ssh accepts what was recorded

    again = run_deploy("@ssh/127.0.0.1", "-y", *args, env=env)  # the key is checked now
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "created an empty" not in again.stdout
    assert len(known.read_text().splitlines()) == 1

    # A key that changed stops the deploy with one line that says what to do.
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    other_key = other.with_suffix(".pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{booted.port} {' '.join(other_key)}\n")
    changed = run_deploy("@ssh/127.0.0.1", "-y", *args, env=env)
    assert changed.returncode == 1
    assert changed.stderr.strip().splitlines()[-1] == (
        "pynchy: error: deploy failed: no host left to deploy to (@ssh/127.0.0.1: SSH host key "
        "error (Host key for 127.0.0.1 does not match.)). The host's SSH key differs from the "
        "one in known_hosts: find out why, then remove the old key (ssh-keygen -R HOST, or "
        "-R '[HOST]:PORT')"
    )


def test_deploy_over_ssh_starts_a_service_that_answers(booted, tmp_path):
    started = time.monotonic()
    env = _fresh_home(tmp_path)
    home = Path(str(env["HOME"]))
    checkout = copy_worktree(tmp_path / "checkout")
    inventory = tmp_path / "inv" / "booted.py"
    inventory.parent.mkdir()
    data = {
        **booted.ssh_data(),
        "pynchy_source_path": str(checkout),
        "pynchy_container_runtime": False,  # podman does not run in this container
        "pynchy_build_image": False,
        "pynchy_config": {
            "assistant_name": "Booted",
            "model": "echo",
            "runtime": "process",
            "allow_process_runtime": True,
        },
        "pynchy_ca_certificates": host_ca_files(),
        "pynchy_pip_config": host_pip_config(),
    }
    inventory.write_text(f"hosts = [('127.0.0.1', {data!r})]\n")

    first = run_deploy(str(inventory), "-y", env=env)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "pynchy service | Restart pynchy (changed)" in first.stdout
    first_took = time.monotonic() - started

    active = booted.ssh(home, "systemctl is-active pynchy.service")
    assert active.stdout.strip() == "active", booted.ssh(home, "journalctl -u pynchy").stdout

    # `pynchy chat` on the target, as the pynchy user, in a pipe: it waits for the reply.
    chat = "echo 'hello from the test' | runuser -u pynchy -- env HOME=/var/lib/pynchy pynchy chat"
    deadline = time.monotonic() + 60
    while True:  # serve may still be opening its API right after the start
        answer = booted.ssh(home, chat)
        if answer.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "Booted: echo: " in answer.stdout and "hello from the test" in answer.stdout

    second = run_deploy(str(inventory), "-y", env=env)  # reuses the venv: no pip this time
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    assert "127.0.0.1: no changes" in second.stdout
    assert "deploy finished: 0 operations changed" in second.stderr
    hosts, changed, errors, unchanged = results_total(second.stdout)
    assert (changed, errors) == ("-", "-") and unchanged == hosts
    assert booted.ssh(home, "systemctl is-active pynchy.service").stdout.strip() == "active"
    print(
        f"booted target: first deploy {first_took:.0f}s, "
        f"whole test {time.monotonic() - started:.0f}s"
    )
