"""`pynchy deploy` of a Ray role (pynchy_ray_role): the token, the node's unit, serve's config.

The `deploy` tests deploy into a fresh debootstrapped bookworm through @chroot (see
test_deploy.py; units are installed and enabled there, not started), and the booted test
into the systemd container of test_deploy_ssh.py (its `booted` fixture), where the head's
unit starts and `ray status` answers with the token only.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from deployhelp import (
    ALL_STEPS_OFF,
    REPO,
    chroot_inventory,
    copy_worktree,
    fresh_root,
    host_ca_files,
    host_pip_config,
    results_total,
    run_deploy,
)
from pyinfra.api.exceptions import DeployError
from test_deploy_ssh import _fresh_home, booted  # noqa: F401  (the booted target fixture)

sys.path.insert(0, str(REPO))  # the deploy/ package, as pyinfra sees it from the checkout

from deploy.tasks.install import requirements  # noqa: E402
from deploy.util import ray_role  # noqa: E402
from deploy.util.config import settings_data  # noqa: E402
from deploy.util.defaults import options  # noqa: E402

TOKEN = "ray-cluster-token-3c8e1f0a9b2d4e6f"  # must never appear in output or a unit
UNITS = "etc/systemd/system"
TOKEN_FILE = "var/lib/pynchy/.local/share/pynchy/ray-token"
BIN = "/opt/pynchy/venv/bin/pynchy"


class _Data(dict):
    def dict(self):
        return dict(self)


class _Host:
    def __init__(self, **data):
        self.data = _Data(data)


def _head(**over) -> dict:
    data = {"pynchy_ray_role": "head", "pynchy_ray_node_ip": "10.1.2.3", "pynchy_ray_token": TOKEN}
    return {**data, **over}


# --- fast: the role's checks, command and settings ----------------------------------------------


def test_a_role_without_bind_address_or_with_every_address_is_refused():
    with pytest.raises(DeployError) as exc:
        ray_role.node(options(_Host(pynchy_ray_role="head", pynchy_ray_token=TOKEN)))
    assert str(exc.value).startswith(
        "inventory data: pynchy_ray_role is set but pynchy_ray_node_ip is not"
    )
    assert "\n" not in str(exc.value)
    for every in ("0.0.0.0", "::"):
        with pytest.raises(DeployError, match="would open Ray's ports on every network"):
            ray_role.node(options(_Host(**_head(pynchy_ray_node_ip=every))))
    with pytest.raises(DeployError, match="a worker needs pynchy_ray_address"):
        ray_role.node(options(_Host(**_head(pynchy_ray_role="worker"))))
    with pytest.raises(DeployError, match="no cluster token"):
        ray_role.node(options(_Host(pynchy_ray_role="head", pynchy_ray_node_ip="127.0.0.1")))
    with pytest.raises(DeployError, match="must be 'head', 'worker' or None"):
        ray_role.node(options(_Host(**_head(pynchy_ray_role="master"))))
    with pytest.raises(DeployError, match="'CPU' cannot be a custom resource"):
        ray_role.node(options(_Host(**_head(pynchy_ray_resources={"CPU": 2}))))
    assert ray_role.node(options(_Host())) is None


def test_the_token_comes_from_a_file_on_the_deployer_and_is_never_echoed(tmp_path):
    token_file = tmp_path / "ray-token"
    token_file.write_text(TOKEN + "\n")
    data = {**_head(), "pynchy_ray_token": None, "pynchy_ray_token_file": str(token_file)}
    ray = ray_role.node(options(_Host(**data)))
    assert ray is not None and ray.token == TOKEN and TOKEN not in repr(ray)
    token_file.write_text("two words\n")
    with pytest.raises(DeployError) as exc:
        ray_role.node(options(_Host(**data)))
    assert "two words" not in str(exc.value)
    with pytest.raises(DeployError, match="only one of"):
        ray_role.node(options(_Host(**{**data, "pynchy_ray_token": TOKEN})))


def test_head_and_worker_commands_and_settings():
    head = options(_Host(**_head(pynchy_ray_num_cpus=2, pynchy_ray_resources={"bigmem": 1})))
    node = ray_role.node(head)
    assert ray_role.exec_start(head, node) == (
        f"{BIN} node start --head --port 6379 --node-ip 10.1.2.3 "
        "--token-file /var/lib/pynchy/.local/share/pynchy/ray-token "
        """--num-cpus 2 --resources '{"bigmem": 1.0}' --block"""
    )
    data = settings_data(head)
    assert data["scaling"] == "ray"
    assert data["ray"] == {"address": "10.1.2.3:6379", "node_ip": "10.1.2.3"}
    # A [ray] table of pynchy_config adds to the role's settings, and wins where both set.
    mixed = options(_Host(**_head(pynchy_config={"ray": {"cpus": 2.0, "node_ip": "10.9.9.9"}})))
    assert settings_data(mixed)["ray"] == {
        "address": "10.1.2.3:6379", "node_ip": "10.9.9.9", "cpus": 2.0,
    }  # fmt: skip

    worker = options(
        _Host(
            **_head(
                pynchy_ray_role="worker",
                pynchy_ray_node_ip="10.1.2.4",
                pynchy_ray_address="10.1.2.3:6379",
                pynchy_ray_num_gpus=1,
                pynchy_ray_labels={"tier": "gpu", "zone": "home"},
                pynchy_service_environment={"PYNCHY_HOME": "/srv/pynchy"},
            )
        )
    )
    assert ray_role.exec_start(worker, ray_role.node(worker)) == (
        f"{BIN} node start --address 10.1.2.3:6379 --node-ip 10.1.2.4 "
        "--token-file /srv/pynchy/ray-token --num-gpus 1 --labels tier=gpu --labels zone=home "
        "--block"
    )
    assert "scaling" not in settings_data(worker)
    assert settings_data(options(_Host())).get("ray") is None


def test_a_ray_role_installs_the_ray_extra():
    pypi = {"pynchy_source": "pypi", "pynchy_version": "1.2.0"}
    assert requirements(options(_Host(**pypi, **_head())))[0] == ["pynchy[ray]==1.2.0"]
    url = "git+https://example.org/pynchy@main"
    assert requirements(options(_Host(pynchy_source=url, **_head())))[0] == [f"pynchy[ray] @ {url}"]
    assert requirements(options(_Host(pynchy_source=url)))[0] == [url]


# --- real deploys into a debootstrapped Debian --------------------------------------------------


@pytest.fixture
def target(tmp_path: Path):
    with fresh_root(tmp_path / "rootfs") as root:
        yield root


def _steps(**data) -> dict:
    """The user, config and service steps with a Ray role; no pip install (the booted test
    installs the extra for real)."""
    return {
        **ALL_STEPS_OFF,
        "pynchy_install_packages": True,  # systemd, for `systemctl enable`
        "pynchy_ca_certificates": host_ca_files(),
        "pynchy_create_user": True,
        "pynchy_write_config": True,
        "pynchy_service": True,
        "pynchy_config": {"model": "echo"},
        **data,
    }


def _ok(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert TOKEN not in output
    return output


def _stat(root: Path, path: str) -> list[str]:
    done = subprocess.run(
        ["chroot", str(root), "stat", "-c", "%a %U %G", f"/{path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


@pytest.mark.deploy
def test_a_role_without_bind_address_changes_nothing(target, tmp_path):
    data = _steps(pynchy_ray_role="worker", pynchy_ray_address="10.1.2.3:6379")
    result = run_deploy(str(chroot_inventory(tmp_path / "inv", target, **data)), "-y")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("pynchy: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "pynchy: error: deploy failed: inventory data: pynchy_ray_role is set but "
        "pynchy_ray_node_ip is not: name the address Ray uses on this host"
    )
    assert not (target / "var/lib/pynchy").exists()  # refused before any change


@pytest.mark.deploy
def test_head_then_worker_then_no_role(target, tmp_path):
    token_file = tmp_path / "deployer-ray-token"
    token_file.write_text(TOKEN + "\n")
    units = target / UNITS
    wants = units / "multi-user.target.wants"
    config = target / "var/lib/pynchy/.config/pynchy/config.toml"
    head = _steps(
        pynchy_ray_role="head",
        pynchy_ray_node_ip="10.1.2.3",
        pynchy_ray_token_file=str(token_file),
        pynchy_ray_num_cpus=2,
        pynchy_ray_resources={"bigmem": 2},
        pynchy_ray_labels={"tier": "head"},
    )
    inventory = chroot_inventory(tmp_path / "head", target, **head)
    host = f"@chroot/{target}"

    # The head: its unit, the token (600, the pynchy user's, never shown), serve drives it.
    _ok(run_deploy(str(inventory), "-y", "--diff", "-vvv"))
    unit = (units / "pynchy-ray-head.service").read_text()
    assert (
        f"ExecStart={BIN} node start --head --port 6379 --node-ip 10.1.2.3 --token-file "
        f"/{TOKEN_FILE} --num-cpus 2 --resources "
        """'{"bigmem": 2.0}' --labels tier=head --block\n"""
    ) in unit
    assert "User=pynchy\n" in unit and TOKEN not in unit
    assert os.readlink(wants / "pynchy-ray-head.service") == f"/{UNITS}/pynchy-ray-head.service"
    assert (target / TOKEN_FILE).read_text() == TOKEN + "\n"
    assert _stat(target, TOKEN_FILE) == ["600", "pynchy", "pynchy"]
    assert _stat(target, posixpath.dirname(TOKEN_FILE)) == ["700", "pynchy", "pynchy"]
    assert _stat(target, "var/lib/pynchy/.local")[1:] == ["pynchy", "pynchy"]
    settings = tomllib.loads(config.read_text())
    assert settings["scaling"] == "ray"
    assert settings["ray"] == {"address": "10.1.2.3:6379", "node_ip": "10.1.2.3"}
    drop_in = units / "pynchy.service.d" / "pynchy-ray.conf"
    assert "After=pynchy-ray-head.service" in drop_in.read_text()
    for path in units.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(errors="replace"), path

    # A second run changes nothing.
    again = run_deploy(str(inventory), "-y")
    _ok(again)
    assert f"{host}: no changes" in again.stdout
    hosts, changed, errors, unchanged = results_total(again.stdout)
    assert (changed, errors) == ("-", "-") and unchanged == hosts

    # The same host as a worker (the token inline this time): the head's unit goes.
    worker = {
        **head,
        "pynchy_ray_role": "worker",
        "pynchy_ray_node_ip": "10.1.2.4",
        "pynchy_ray_address": "10.1.2.3:6379",
        "pynchy_ray_token_file": None,
        "pynchy_ray_token": TOKEN,
        "pynchy_ray_num_gpus": 1,
        "pynchy_ray_resources": {},
    }
    output = _ok(run_deploy(str(chroot_inventory(tmp_path / "worker", target, **worker)), "-y"))
    assert "Ray node | Disable pynchy-ray-head.service" in output
    assert not (units / "pynchy-ray-head.service").exists()
    assert not (wants / "pynchy-ray-head.service").is_symlink()
    assert not drop_in.exists()
    unit = (units / "pynchy-ray-worker.service").read_text()
    assert (
        f"ExecStart={BIN} node start --address 10.1.2.3:6379 --node-ip 10.1.2.4 --token-file "
        f"/{TOKEN_FILE} --num-cpus 2 --num-gpus 1 --labels tier=head --block\n"
    ) in unit
    assert (wants / "pynchy-ray-worker.service").is_symlink()
    settings = tomllib.loads(config.read_text())
    assert "scaling" not in settings and settings["ray"] == {"node_ip": "10.1.2.4"}

    # No role: no Ray unit left; serve's config is back to local scaling.
    no_role = {k: v for k, v in worker.items() if not k.startswith("pynchy_ray_")}
    output = _ok(run_deploy(str(chroot_inventory(tmp_path / "none", target, **no_role)), "-y"))
    assert "Ray node | Remove /etc/systemd/system/pynchy-ray-worker.service" in output
    assert not list(units.glob("pynchy-ray-*")) and not list(wants.glob("pynchy-ray-*"))
    assert "ray" not in tomllib.loads(config.read_text())
    again = run_deploy(str(chroot_inventory(tmp_path / "none", target, **no_role)), "-y")
    assert f"{host}: no changes" in _ok(again)


# --- the booted target: the head's unit starts, and Ray answers with the token only -------------


def _on_target(target, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", "exec", target.name, "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.deploy
@pytest.mark.podman
@pytest.mark.ray
def test_booted_head_runs_with_token_auth(booted, tmp_path):  # noqa: F811
    env = _fresh_home(tmp_path)
    checkout = copy_worktree(tmp_path / "checkout")
    data = {
        **booted.ssh_data(),
        "pynchy_source_path": str(checkout),
        "pynchy_container_runtime": False,  # podman does not run in this container
        "pynchy_build_image": False,
        "pynchy_service": False,  # the head's node alone
        "pynchy_config": {"model": "echo", "runtime": "process", "allow_process_runtime": True},
        "pynchy_ca_certificates": host_ca_files(),
        "pynchy_pip_config": host_pip_config(),
        "pynchy_ray_role": "head",
        "pynchy_ray_node_ip": "127.0.0.1",
        "pynchy_ray_token": TOKEN,
        "pynchy_ray_num_cpus": 1,
        "pynchy_ray_resources": {"bigmem": 1},
    }
    inventory = tmp_path / "inv" / "booted.py"
    inventory.parent.mkdir()
    inventory.write_text(f"hosts = [('127.0.0.1', {data!r})]\n")

    first = run_deploy(str(inventory), "-y", env=env)
    output = _ok(first)
    assert "Ray node | Restart pynchy-ray-head.service (changed)" in output
    journal = "journalctl -u pynchy-ray-head --no-pager | tail -40"
    active = _on_target(booted, "systemctl is-active pynchy-ray-head.service")
    assert active.stdout.strip() == "active", (
        active.stderr + _on_target(booted, journal).stdout + output[-3000:]
    )

    # As serve's driver does for a loopback cluster: keep 127.0.0.1 (else Ray swaps in the LAN IP).
    ray = "runuser -u pynchy -- env HOME=/var/lib/pynchy RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0"
    status = (
        "RAY_AUTH_MODE=token timeout 60 /opt/pynchy/venv/bin/ray status --address 127.0.0.1:6379"
    )
    with_token = f"{ray} RAY_AUTH_TOKEN_PATH=/{TOKEN_FILE} {status}"
    answer = _on_target(  # until the head reports its resources (a few seconds after start)
        booted,
        f"for i in $(seq 30); do out=$({with_token}) && case $out in *bigmem*) "
        'echo "$out"; exit 0;; esac; sleep 2; done; echo "$out"; exit 1',
    )
    assert answer.returncode == 0, (
        answer.stdout + answer.stderr[-3000:] + _on_target(booted, journal).stdout
    )
    assert "bigmem" in answer.stdout
    wrong = _on_target(booted, f"{ray} RAY_AUTH_TOKEN=not-the-cluster-token-0000 {status}")
    assert wrong.returncode != 0 and "InvalidAuthToken" in wrong.stderr
    # A one-machine head keeps its GCS port (6379 = 0x18EB) on 127.0.0.1 (or ::ffff:127.0.0.1).
    listening = [
        line.split()[1]
        for line in _on_target(booted, "cat /proc/net/tcp /proc/net/tcp6").stdout.splitlines()
        if line.split()[1:2] and line.split()[1].endswith(":18EB") and line.split()[3] == "0A"
    ]
    assert listening and all(a.endswith("0100007F:18EB") for a in listening), listening

    second = run_deploy(str(inventory), "-y", env=env)
    assert "127.0.0.1: no changes" in _ok(second)
    assert _on_target(booted, "systemctl is-active pynchy-ray-head.service").stdout.strip() == (
        "active"
    )
