"""`pynchy deploy` and the pyinfra deploys in deploy/.

The `deploy` tests run the real deploy, through `pynchy deploy`, into a fresh Debian
bookworm made with debootstrap, reached with pyinfra's @chroot connector. The pristine rootfs
is cached as a tarball (PYNCHY_TEST_CACHE, default /var/cache/pynchy-test), but every test
deploys into its own fresh copy. They need root and debootstrap, as CI has. The deploy to a
booted target over SSH is in test_deploy_ssh.py.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from deployhelp import REPO, copy_worktree, fresh_root, host_ca_files, run_deploy
from deployhelp import results_total as _results_total
from pyinfra.api.exceptions import DeployError

from pynchy_cli.core import deploy as core

sys.path.insert(0, str(REPO))  # the deploy/ package, as pyinfra sees it from the checkout

from deploy.util import config as deploy_config  # noqa: E402
from deploy.util import toml  # noqa: E402
from deploy.util.defaults import DEFAULTS, options  # noqa: E402

SECRET_VAR = "PYNCHY_TEST_DEPLOY_KEY"
SECRET = "sk-ant-test-7f3c9e2b41d8a6"  # must never appear in any deploy output
PERIODIC = "digest"


# --- fast tests: the command's errors and the deploy's helpers ------------------------------


def test_missing_inventory_is_one_line_and_not_found(cli):
    result = cli("deploy", "no-such-inventory", "-y")
    assert result.exit_code == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("pynchy: error: inventory no-such-inventory not found.")
    assert "local" in lines[0] and "example" in lines[0]  # the hint lists what exists


def test_missing_inventory_path_is_not_found(cli, tmp_path):
    result = cli("deploy", str(tmp_path / "nowhere.py"), "--dry")
    assert result.exit_code == 4
    assert result.stderr.strip().splitlines() == [
        f"pynchy: error: inventory {tmp_path / 'nowhere.py'} not found. "
        f"Inventories in {REPO / 'inventories'}: example, local; "
        "or give a path to an inventory file"
    ]


def test_deploy_without_terminal_needs_yes(cli):
    result = cli("deploy", "example")  # CliRunner's stdin is no terminal
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "pynchy: error: pyinfra asks for confirmation before changing hosts, and there is "
        "no terminal. Pass -y to deploy without asking, or --dry to see what would change"
    ]


def test_default_inventory_is_the_checkouts_local():
    checkout = core.find_checkout()
    assert checkout == REPO
    assert core.resolve_inventory(None, checkout) == REPO / "inventories" / "local.py"
    assert core.resolve_inventory("example", checkout) == REPO / "inventories" / "example.py"
    assert core.resolve_inventory("@local", checkout) == "@local"


def test_group_data_documents_every_default_with_its_value():
    documented = runpy.run_path(str(REPO / "inventories" / "group_data" / "all.py"))
    documented = {k: v for k, v in documented.items() if k.startswith("pynchy_")}
    assert documented == DEFAULTS


class _Data(dict):
    def dict(self):
        return dict(self)


class _Host:
    def __init__(self, **data):
        self.data = _Data(data)


def test_unknown_data_key_is_refused_with_a_suggestion():
    with pytest.raises(DeployError, match="did you mean pynchy_start_services"):
        options(_Host(pynchy_start_service=False))


def test_bad_periodic_agent_is_refused():
    with pytest.raises(DeployError, match="'name' and 'schedule'"):
        options(_Host(pynchy_periodic_agents=[{"name": "x"}]))
    with pytest.raises(DeployError, match="lowercase"):
        options(_Host(pynchy_periodic_agents=[{"name": "Bad Name", "schedule": "daily"}]))


def test_toml_writer_round_trips():
    data = {
        "assistant_name": "P",
        "limits": {"cpus": 1.5, "run_timeout": 60},
        "accounts": {"my account": {"provider": "openai", "api_key": 'a"b\\c\n'}},
        "list": ["x", 1, True],
        "skipped": None,
    }
    text = toml.dumps(data)
    assert tomllib.loads(text) == {k: v for k, v in data.items() if v is not None}


def test_config_takes_keys_from_the_deployer_and_validates(monkeypatch, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    monkeypatch.setenv(SECRET_VAR, SECRET)
    opts = options(
        _Host(
            pynchy_config={"model": "echo"},
            pynchy_accounts={
                "a": {"provider": "anthropic", "api_key_env": SECRET_VAR},
                "o": {"provider": "openai", "api_key_file": str(key_file), "base_url": "http://x"},
            },
        )
    )
    data = tomllib.loads(deploy_config.render(opts))
    assert data["accounts"]["a"] == {"provider": "anthropic", "api_key": SECRET}
    assert data["accounts"]["o"]["api_key"] == "from-file"
    assert data["container_socket"] == "unix:///run/podman/podman.sock"

    monkeypatch.delenv(SECRET_VAR)
    with pytest.raises(DeployError, match=f"\\${SECRET_VAR} is not set"):
        deploy_config.render(opts)
    bad = options(_Host(pynchy_config={"limits": {"cpus": "lots"}}))
    with pytest.raises(DeployError, match="invalid setting limits.cpus") as exc:
        deploy_config.render(bad)
    assert "lots" not in str(exc.value)  # names the key, never the value


# --- real deploys into a debootstrapped Debian --------------------------------------------------


@pytest.fixture
def target(tmp_path: Path):
    """A fresh copy of a pristine debootstrapped bookworm; unmounted and deleted afterwards."""
    with fresh_root(tmp_path / "rootfs") as root:
        yield root


@pytest.fixture(scope="module")
def frozen_checkout(tmp_path_factory) -> Path:
    return copy_worktree(tmp_path_factory.mktemp("checkout"))


def _inventory(folder: Path, root: Path, **data) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "target.py"
    path.write_text(f"hosts = [({f'@chroot/{root}'!r}, {data!r})]\n")
    return path


def _test_data(source: Path) -> dict:
    return {
        "pynchy_source": "local",
        "pynchy_source_path": str(source),
        "pynchy_build_image": False,
        "pynchy_start_services": False,
        "pynchy_periodic_agents": [
            # The definition travels with the timer: [periodic.digest] in config.toml.
            {
                "name": PERIODIC,
                "schedule": "0 7 * * *",
                "group": "main",
                "prompt": "what happened today?",
                "model": "echo",
            }
        ],
        "pynchy_accounts": {"anthropic": {"provider": "anthropic", "api_key_env": SECRET_VAR}},
        "pynchy_config": {
            "assistant_name": "Deployed",
            "model": "anthropic:claude-sonnet-4-5",
            "account": "anthropic",
        },
        # Trust what this machine trusts: its egress may go through a TLS-inspecting proxy.
        "pynchy_ca_certificates": host_ca_files(),
    }


def _deploy(inventory: Path | str, *args: str, secret: str = SECRET) -> subprocess.CompletedProcess:
    return run_deploy(str(inventory), *args, env={SECRET_VAR: secret})


def _in_target(
    root: Path, *command: str, env: list[str] | None = None, stderr: bool = False
) -> str:
    """Run a command in the target as the pynchy user, with a clean environment (plus
    `env`); its stdout (and stderr with stderr=True)."""
    cmd = ["chroot", str(root), "env", "-i", "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    cmd += [*(env or []), "runuser", "-u", "pynchy", "--", *command]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if "ModuleNotFoundError" in done.stderr:
        pytest.fail(
            "pynchy does not start where it was deployed: a module it imports is missing "
            "from pyproject.toml's dependencies?\n" + done.stderr
        )
    assert done.returncode == 0, done.stderr
    return done.stdout + (done.stderr if stderr else "")


@pytest.mark.deploy
def test_deploy_takes_a_bare_debian_to_an_installed_pynchy(target, frozen_checkout, tmp_path):
    inventory = _inventory(tmp_path / "inv", target, **_test_data(frozen_checkout))
    host = f"@chroot/{target}"

    first = _deploy(inventory, "-y")
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-4000:]
    assert SECRET not in output
    assert "Install pynchy | pip install pynchy and its plugins" in first.stdout
    assert f"{host}: " in first.stdout and "operations changed" in first.stdout

    # pynchy runs there as the pynchy user, and reads the config the deploy wrote.
    assert _in_target(target, "pynchy", "--version").startswith("pynchy ")
    shown = json.loads(_in_target(target, "pynchy", "config", "show", "--json"))
    assert shown["assistant_name"] == "Deployed"
    assert shown["account"] == "anthropic"
    assert shown["container_socket"] == "unix:///run/podman/podman.sock"
    assert shown["accounts"]["anthropic"]["api_key"] != SECRET  # masked, but set

    config = target / "var/lib/pynchy/.config/pynchy/config.toml"
    stat = subprocess.run(
        ["chroot", str(target), "stat", "-c", "%a %U %G", str(config.relative_to(target))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert stat == ["600", "pynchy", "pynchy"]
    data = tomllib.loads(config.read_text())
    assert data["assistant_name"] == "Deployed"
    assert data["accounts"]["anthropic"] == {"provider": "anthropic", "api_key": SECRET}

    # The service and the periodic agent's timer are installed and enabled.
    units = target / "etc/systemd/system"
    assert "ExecStart=/opt/pynchy/venv/bin/pynchy serve" in (units / "pynchy.service").read_text()
    wants = units / "multi-user.target.wants" / "pynchy.service"
    assert os.readlink(wants) == "/etc/systemd/system/pynchy.service"
    timer = units / f"pynchy-periodic-{PERIODIC}.timer"
    assert "OnCalendar=*-*-* 07:00:00" in timer.read_text()
    service = (units / f"pynchy-periodic-{PERIODIC}.service").read_text()
    assert f"ExecStart=/opt/pynchy/venv/bin/pynchy agent run --periodic {PERIODIC}" in service
    timer_link = units / "timers.target.wants" / timer.name
    assert os.readlink(timer_link) == f"/etc/systemd/system/{timer.name}"
    verify = subprocess.run(
        ["chroot", str(target), "systemd-analyze", "verify"]
        + [f"/etc/systemd/system/{p.name}" for p in (units / "pynchy.service", timer)]
        + [f"/etc/systemd/system/pynchy-periodic-{PERIODIC}.service"],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr  # the units are valid
    assert 'runtime = "runc"' in (target / "etc/containers/containers.conf").read_text()
    assert (target / "usr/bin/podman").exists()

    # A second run changes nothing: pynchy's summary and pyinfra's own results agree.
    second = _deploy(inventory, "-y")
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    assert f"{host}: no changes" in second.stdout
    assert "deploy finished: 0 operations changed" in second.stderr
    hosts, changed, errors, unchanged = _results_total(second.stdout)
    assert (changed, errors) == ("-", "-") and unchanged == hosts
    assert SECRET not in second.stdout + second.stderr

    # --dry after it: nothing would change.
    dry = _deploy(inventory, "--dry")
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-4000:]
    assert f"{host}: no changes" in dry.stdout
    assert "dry run: 0 operations would change" in dry.stderr

    # A new key changes only config.toml, and even --diff -vvv never shows either key.
    rotated = "sk-ant-rotated-51c0d9aa"
    third = _deploy(inventory, "-y", "--diff", "-vvv", secret=rotated)
    output = third.stdout + third.stderr
    assert third.returncode == 0, output[-4000:]
    assert SECRET not in output and rotated not in output
    assert re.search(r"1 operations changed\n\s+pynchy config \| Write config.toml", third.stdout)
    assert tomllib.loads(config.read_text())["accounts"]["anthropic"]["api_key"] == rotated

    # The periodic agent is defined, and the timer's command runs it, once per due time,
    # with nothing done by hand (its group is made on the first run, as serve would).
    definition = tomllib.loads(config.read_text())["periodic"][PERIODIC]
    assert definition == {
        "schedule": "0 7 * * *",
        "enabled": True,
        "group": "main",
        "prompt": "what happened today?",
        "model": "echo",
    }
    listed = json.loads(_in_target(target, "pynchy", "periodic", "list", "--json"))
    assert [(a["name"], a["enabled"]) for a in listed if a["source"] == "config"] == [
        (PERIODIC, True)
    ]
    exec_start = re.search(r"^ExecStart=(.*)$", service, re.M).group(1).split()
    # No podman service in a chroot: the same command with the process runtime.
    no_podman = ["PYNCHY_RUNTIME=process", "PYNCHY_ALLOW_PROCESS_RUNTIME=true"]
    ran = _in_target(target, *exec_start, env=no_podman)
    assert "what happened today?" in ran  # the echo model's answer
    again = _in_target(target, *exec_start, env=no_podman, stderr=True)
    assert "already ran" in again
    runs = json.loads(_in_target(target, "pynchy", "agent", "ps", "--all", "--json"))
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"


@pytest.mark.deploy
def test_failing_operation_is_named_in_one_error_line(target, tmp_path):
    inventory = _inventory(
        tmp_path / "inv",
        target,
        pynchy_extra_packages=["no-such-package-for-pynchy"],
        pynchy_container_runtime=False,
    )
    result = _deploy(inventory, "-y")
    assert result.returncode == 1
    assert "Unable to locate package no-such-package-for-pynchy" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("pynchy: error:")]
    assert errors == [
        'pynchy: error: deploy failed: operation "System packages | Install system packages" '
        f"failed on @chroot/{target}. pyinfra's output above shows the command and its error; "
        "fix it and run again"
    ]


@pytest.mark.deploy
def test_missing_secret_fails_before_changing_anything(target, tmp_path):
    inventory = _inventory(
        tmp_path / "inv",
        target,
        pynchy_accounts={"main": {"provider": "anthropic", "api_key_env": "PYNCHY_TEST_UNSET"}},
    )
    os.environ.pop("PYNCHY_TEST_UNSET", None)
    result = _deploy(inventory, "-y")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "pynchy: error: deploy failed: account main: $PYNCHY_TEST_UNSET is not set in the "
        "deployer's environment (export it before deploying). See pyinfra's output above"
    )
    assert not (target / "opt/pynchy").exists()


@pytest.mark.deploy
def test_steps_switch_off_and_the_scheduler_switches_cleanly(target, tmp_path):
    only_periodic = {
        "pynchy_container_runtime": False,
        "pynchy_install": False,
        "pynchy_write_config": False,
        "pynchy_build_image": False,
        "pynchy_service": False,
        "pynchy_start_services": False,
    }
    units = target / "etc/systemd/system"
    cron = target / "etc/cron.d/pynchy"
    agents = [
        {"name": "morning", "schedule": "0 7 * * *"},
        {"name": "hourly", "schedule": "@hourly"},
    ]

    inventory = _inventory(
        tmp_path / "cron", target, pynchy_scheduler="cron", pynchy_periodic_agents=agents,
        **only_periodic,
    )  # fmt: skip
    result = _deploy(inventory, "-y")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    lines = [line for line in cron.read_text().splitlines() if "pynchy agent run" in line]
    assert lines == [
        "0 7 * * * pynchy /opt/pynchy/venv/bin/pynchy agent run --periodic morning"
        " 2>&1 | logger -t pynchy-periodic-morning",
        "@hourly pynchy /opt/pynchy/venv/bin/pynchy agent run --periodic hourly"
        " 2>&1 | logger -t pynchy-periodic-hourly",
    ]
    assert not (target / "opt/pynchy").exists()  # the install step was off
    assert not (units / "pynchy.service").exists()  # and the service step
    assert not (target / "etc/containers/containers.conf").exists()

    inventory = _inventory(
        tmp_path / "timers", target,
        pynchy_periodic_agents=[{"name": "morning", "schedule": "*-*-* 07:00:00"}],
        **only_periodic,
    )  # fmt: skip
    result = _deploy(inventory, "-y")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert not cron.exists()
    assert (units / "timers.target.wants" / "pynchy-periodic-morning.timer").is_symlink()

    inventory = _inventory(tmp_path / "none", target, **only_periodic)
    result = _deploy(inventory, "-y")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Periodic agents | Disable pynchy-periodic-morning.timer" in result.stdout
    assert not list(units.glob("pynchy-periodic-*"))
    assert not list(units.glob("*.wants/pynchy-periodic-*"))
