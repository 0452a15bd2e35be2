"""The applecontainer runtime against a fake `container` on PATH that records its argv.

Apple's CLI runs only on macOS; these tests check the command lines the runtime builds and
how it reads the CLI's answers. Run them once the plugin is installed:

    pynchy plugin install ./plugins/pynchy-apple-container
    python -m pytest plugins/pynchy-apple-container/tests
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from pynchy_apple_container import pynchy_runtimes
from pynchy_apple_container.runtime import AppleContainerRuntime, make_runtime, memory_mib

from pynchy_cli import (
    ConfigError,
    ConflictError,
    ContainerHandle,
    ContainerSpec,
    Mount,
    UnavailableError,
)

FAKE = Path(__file__).with_name("fake_container.py")


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `container` executable on PATH; returns its state folder."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    exe = bin_dir / "container"
    exe.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(FAKE)!r}, run_name='__main__')\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_CONTAINER_DIR", str(state))
    return state


def calls(state: Path) -> list[list[str]]:
    lines = (state / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def spec(**changes) -> ContainerSpec:
    base = dict(
        name="pynchy-main-r1",
        image="localhost/pynchy-agent:latest",
        command=["python3", "-m", "pynchy_agent"],
        env={"PYNCHY_SOCKET": "/run/pynchy/pynchy.sock"},
        mounts=[
            Mount("/Users/ana/groups/main", "/workspace"),
            Mount("/Users/ana/global", "/workspace/global", read_only=True),
        ],
        cpus=1.5,
        memory="1g",
        labels={"pynchy.run": "r1", "pynchy.group": "main"},
    )
    base.update(changes)
    return ContainerSpec(**base)


def test_run_command_line() -> None:
    argv = AppleContainerRuntime().run_argv(spec())
    assert argv == [
        "container", "run", "--detach", "--name", "pynchy-main-r1",
        "--label", "pynchy.run=r1", "--label", "pynchy.group=main",
        "--env", "PYNCHY_SOCKET=/run/pynchy/pynchy.sock",
        "--volume", "/Users/ana/groups/main:/workspace",
        "--volume", "/Users/ana/global:/workspace/global:ro",
        "--cpus", "2", "--memory", "1024M", "--workdir", "/workspace",
        "--network", "none",
        "localhost/pynchy-agent:latest", "python3", "-m", "pynchy_agent",
    ]  # fmt: skip


def test_network_user_and_limits() -> None:
    argv = AppleContainerRuntime("/opt/bin/container").run_argv(
        spec(network=True, user="1000:1000", cpus=0.5, memory="512m", labels={})
    )
    assert argv[0] == "/opt/bin/container"
    assert "--network" not in argv
    assert argv[argv.index("--user") + 1] == "1000:1000"
    assert argv[argv.index("--cpus") + 1] == "1"
    assert argv[argv.index("--memory") + 1] == "512M"
    assert argv[argv.index("--label") + 1] == "pynchy.run=pynchy-main-r1"
    assert memory_mib("1.5GiB") == 1536 and memory_mib(1 << 30) == 1024
    with pytest.raises(ConfigError):
        memory_mib("lots")


def test_a_colon_in_a_mount_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="contains ':'"):
        AppleContainerRuntime().run_argv(spec(mounts=[Mount("/a:b", "/workspace")]))


def test_start_wait_stop_through_the_cli(fake: Path) -> None:
    runtime = AppleContainerRuntime(poll=0.01)
    handle = runtime.start(spec(env={"FAKE_EXIT": "3"}))
    assert handle == ContainerHandle("pynchy-main-r1", "pynchy-main-r1", "applecontainer")
    assert runtime.wait(handle, 0) is None  # still running
    assert runtime.wait(handle, 10) == 3
    assert list(runtime.logs(handle)) == ["started pynchy-main-r1", "agent says hi"]
    runtime.stop(handle, grace=2.2)
    assert runtime.wait(handle, 1) == 3  # remembered after removal
    argvs = calls(fake)
    assert argvs[0][:3] == ["run", "--detach", "--name"]
    assert ["inspect", "pynchy-main-r1"] in argvs
    stopped = argvs.index(["stop", "--time", "3", "pynchy-main-r1"])
    assert argvs.index(["delete", "--force", "pynchy-main-r1"]) > stopped


def test_stop_of_a_running_container_and_a_gone_one(fake: Path) -> None:
    runtime = AppleContainerRuntime(poll=0.01)
    handle = runtime.start(spec())
    runtime.stop(handle)
    assert runtime.wait(handle, 1) == 143  # SIGTERM, as the CLI reported it
    other = ContainerHandle("pynchy-main-gone", "pynchy-main-gone", "applecontainer")
    assert runtime.wait(other, 1) == 137
    assert list(runtime.logs(other)) == []


def test_old_cli_without_exit_codes(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_OLD_FORMAT", "1")
    monkeypatch.setenv("FAKE_POLLS", "0")
    runtime = AppleContainerRuntime(poll=0.01)
    handle = runtime.start(spec(env={"FAKE_EXIT": "5"}))
    assert runtime.wait(handle, 5) == 0  # stopped; this CLI does not say how


def test_list_and_cleanup_orphans(fake: Path) -> None:
    runtime = AppleContainerRuntime(poll=0.01)
    runtime.start(spec(name="pynchy-main-a", labels={"pynchy.run": "a"}))
    runtime.start(spec(name="pynchy-main-b", labels={"pynchy.run": "b"}))
    listed = sorted(runtime.list_pynchy())
    assert listed == [("pynchy-main-a", "a", "running"), ("pynchy-main-b", "b", "running")]
    assert runtime.cleanup_orphans({"a"}) == ["pynchy-main-b"]
    assert [name for name, _, _ in runtime.list_pynchy()] == ["pynchy-main-a"]
    assert ["list", "--all", "--format", "json"] in calls(fake)


def test_start_errors(fake: Path) -> None:
    runtime = AppleContainerRuntime(poll=0.01)
    runtime.start(spec())
    with pytest.raises(ConflictError) as err:
        runtime.start(spec())
    assert "delete --force pynchy-main-r1" in err.value.hint
    with pytest.raises(UnavailableError, match="not available"):
        runtime.start(spec(name="pynchy-main-x", image="missing:latest"))


def test_without_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UnavailableError) as err:
        AppleContainerRuntime().start(spec())
    assert "not installed" in err.value.message and "container system start" in err.value.hint


def test_registers_the_runtime_with_its_settings() -> None:
    registered = []
    pynchy_runtimes(lambda *args: registered.append(args))
    [(name, factory)] = registered
    assert name == "applecontainer"
    settings = SimpleNamespace(plugin={"applecontainer": {"executable": "/opt/container"}})
    assert factory(settings).executable == "/opt/container"
    assert make_runtime(SimpleNamespace(plugin={})).executable == "container"
