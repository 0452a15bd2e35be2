"""What a new user hands `pynchy deploy`: the default source, --data, a broken inventory,
a deployer without ~/.ssh, and a target whose containers.conf holds its own settings.

The `deploy` tests here deploy into a fresh debootstrapped chroot (see test_deploy.py).
"""

from __future__ import annotations

import json
import runpy
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from deployhelp import ALL_STEPS_OFF, REPO, fresh_root, run_deploy

from pynchy_cli.core import deploy as core

sys.path.insert(0, str(REPO))  # the deploy/ package, as pyinfra sees it from the checkout

from deploy.tasks.install import requirements  # noqa: E402
from deploy.util import toml  # noqa: E402
from deploy.util.defaults import DEFAULTS, options  # noqa: E402

CONTAINERS_CONF = DEFAULTS["pynchy_containers_conf"]
USER_CONF = """\
# podman settings of this host's admin
[containers]
log_driver = "k8s-file"  # kept
default_ulimits = [
  "nofile=4096:4096",
]

# the engine
[engine]
events_logger = "file"
runtime = "crun"

[engine.runtimes]
crun = ["/usr/local/bin/crun"]

[network]
network_backend = "netavark"
"""


class _Host:
    def __init__(self, **data):
        self.data = data


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime if path.exists() else None


# --- the source pynchy is installed from ------------------------------------------------------


def test_source_defaults_to_the_deployers_checkout():
    """pynchy is not on PyPI: the default and the example inventory install this checkout."""
    assert DEFAULTS["pynchy_source"] == "local"
    example = runpy.run_path(str(REPO / "inventories" / "example.py"))
    ((_, data),) = example["servers"]
    assert data.get("pynchy_source", DEFAULTS["pynchy_source"]) == "local"
    reqs, wheels = requirements(options(_Host()))
    assert [Path(r).name for r in reqs] == [w.name for w in wheels]
    assert reqs[0].startswith("/opt/pynchy/dist/pynchy-") and reqs[0].endswith(".whl")


# --- --data ------------------------------------------------------------------------------------


def test_data_values_are_parsed_and_reach_pyinfra_unchanged():
    given = [
        "a=true", "b=False", "c=2222", "d=1.5", "e=null", 'f={"x": [1, "y"]}', "g=abc",
        "h=", 'i="007"', "j=k=v", "k=007", "l=/path/to key",
    ]  # fmt: skip
    data = core.parse_data(given)
    assert data == {
        "a": True, "b": False, "c": 2222, "d": 1.5, "e": None, "f": {"x": [1, "y"]},
        "g": "abc", "h": "", "i": "007", "j": "k=v", "k": "007", "l": "/path/to key",
    }  # fmt: skip
    cmd = core.pyinfra_command("@local", Path("deploy.py"), data=data)
    passed = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--data"]
    # pyinfra parses each --data value itself: what it reads back is what was meant. (In a
    # child process: importing pyinfra_cli monkey-patches the whole interpreter with gevent.)
    read_back = subprocess.run(
        [sys.executable, "-c", _READ_BACK, *passed], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(read_back) == data


_READ_BACK = """
import json, sys
from pyinfra_cli.util import parse_cli_arg
print(json.dumps({k: parse_cli_arg(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])}))
"""


def test_data_without_a_value_is_a_usage_error(cli):
    result = cli("deploy", "@local", "--dry", "--data", "pynchy_source")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("pynchy: error: --data 'pynchy_source' is not KEY=VALUE. ")


# --- a broken inventory ------------------------------------------------------------------------


def test_inventory_syntax_error_is_one_line_naming_file_and_line(cli, tmp_path, monkeypatch):
    inventory = tmp_path / "broken.py"
    inventory.write_text('hosts = [\n    ("@local", {"pynchy_source": "local")]\n')
    monkeypatch.chdir(tmp_path)
    before = _mtime(REPO / core.DEBUG_LOG)
    result = cli("deploy", str(inventory), "--dry")
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        f"pynchy: error: inventory {inventory}:2: closing parenthesis ')' does not match "
        "opening parenthesis '{'. Fix the syntax error and run again"
    ]
    assert "internal exception" not in result.stdout
    assert not (tmp_path / core.DEBUG_LOG).exists()
    assert _mtime(REPO / core.DEBUG_LOG) == before


def test_pyinfra_crash_is_one_line_and_leaves_no_debug_log(tmp_path):
    inventory = tmp_path / "crash.py"
    inventory.write_text('hosts = [("@local", 5)]\n')  # data must be a mapping: pyinfra crashes
    before = _mtime(REPO / core.DEBUG_LOG)
    result = run_deploy(str(inventory), "--dry")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "pynchy: error: deploy failed: TypeError: 'int' object is not iterable "
        f"(pyinfra's traceback: {core.KEPT_DEBUG_LOG}). See pyinfra's output above"
    )
    assert _mtime(REPO / core.DEBUG_LOG) == before  # moved out of the checkout
    assert "TypeError" in core.KEPT_DEBUG_LOG.read_text()


def test_exception_in_an_inventory_names_file_and_line(tmp_path):
    inventory = tmp_path / "typo.py"
    inventory.write_text('hosts = [("@local", {"pynchy_source": lcoal})]\n')
    result = run_deploy(str(inventory), "--dry")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"pynchy: error: deploy failed: {inventory}:1: NameError: name 'lcoal' is not defined. "
        "See pyinfra's output above"
    )


# --- a deployer without ~/.ssh (the deploy over SSH is in test_deploy_ssh.py) ------------------


def test_known_hosts_is_made_for_ssh_targets_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert core.ensure_known_hosts("@chroot/srv/root") is None
    assert not (tmp_path / ".ssh").exists()
    known = core.ensure_known_hosts("@ssh/example.org")
    assert known == tmp_path / ".ssh" / "known_hosts"
    assert known.read_text() == ""
    assert stat.S_IMODE(known.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    known.write_text("example.org ssh-ed25519 AAAA\n")
    assert core.ensure_known_hosts(tmp_path / "inventory.py") is None  # kept as it is
    assert known.read_text() == "example.org ssh-ed25519 AAAA\n"


# --- containers.conf: pynchy's keys merged in, the rest kept -----------------------------------


def test_containers_conf_merge_changes_only_pynchys_keys():
    merged = toml.merge(USER_CONF, CONTAINERS_CONF)
    assert tomllib.loads(merged) == {
        "containers": {
            "log_driver": "k8s-file",
            "default_ulimits": ["nofile=1024:1024", "nproc=1024:1024"],
        },
        "engine": {
            "events_logger": "file",
            "runtime": "runc",
            "runtimes": {"crun": ["/usr/local/bin/crun"]},
        },
        "network": {"network_backend": "netavark"},
    }
    removed = set(USER_CONF.splitlines()) - set(merged.splitlines())
    assert removed == {"default_ulimits = [", '  "nofile=4096:4096",', "]", 'runtime = "crun"'}
    assert toml.merge(merged, CONTAINERS_CONF) == merged  # a second run changes nothing
    assert tomllib.loads(toml.merge("", CONTAINERS_CONF)) == CONTAINERS_CONF
    with pytest.raises(ValueError, match="not valid TOML"):
        toml.merge("[engine\n", CONTAINERS_CONF)
    with pytest.raises(ValueError, match="cannot be merged"):
        toml.merge('engine.runtime = "crun"\n', CONTAINERS_CONF)


@pytest.fixture
def target(tmp_path: Path):
    with fresh_root(tmp_path / "rootfs") as root:
        yield root


def _inventory(folder: Path, root: Path, **data) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "target.py"
    path.write_text(f"hosts = [({f'@chroot/{root}'!r}, {data!r})]\n")
    return path


@pytest.mark.deploy
def test_deploy_keeps_the_targets_other_containers_conf_settings(target, tmp_path):
    conf = target / "etc/containers/containers.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(USER_CONF)
    only_runtime = {**ALL_STEPS_OFF, "pynchy_container_runtime": True}
    inventory = _inventory(tmp_path, target, **only_runtime, pynchy_podman_socket=False)

    first = run_deploy(str(inventory), "-y")
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "Set pynchy's keys in /etc/containers/containers.conf" in first.stdout
    assert conf.read_text() == toml.merge(USER_CONF, CONTAINERS_CONF)
    assert "# podman settings of this host's admin" in conf.read_text()
    assert conf.with_name("containers.conf.pynchy-backup").read_text() == USER_CONF

    second = run_deploy(str(inventory), "-y")
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    assert f"@chroot/{target}: no changes" in second.stdout


@pytest.mark.deploy
def test_data_option_works_with_a_connector_and_over_an_inventory(target, tmp_path):
    only_config = {**ALL_STEPS_OFF, "pynchy_create_user": True, "pynchy_write_config": True}
    data = [f"--data={k}={json.dumps(v)}" for k, v in only_config.items()]
    config = target / "var/lib/pynchy/.config/pynchy/config.toml"

    chrooted = {"assistant_name": "Chrooted", "limits": {"max_turns": 7}}
    result = run_deploy(
        f"@chroot/{target}", "-y", *data, "--data", f"pynchy_config={json.dumps(chrooted)}"
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    written = tomllib.loads(config.read_text())
    assert written["assistant_name"] == "Chrooted" and written["limits"] == {"max_turns": 7}

    inventory = _inventory(tmp_path, target, pynchy_config={"assistant_name": "FromFile"})
    result = run_deploy(
        str(inventory), "-y", *data, "--data", 'pynchy_config={"assistant_name": "FromData"}'
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert tomllib.loads(config.read_text())["assistant_name"] == "FromData"
