"""What makes pynchy quick, checked as behaviour (the timings are benchmarks/' job): the
CLI imports only what a command uses, a run ends on its result and its container is gone
when `pynchy agent run` returns, and the model core is built while the container starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pynchy_cli import __version__
from pynchy_cli.core.runtimes.detect import socket_answers

PODMAN_SOCKET = "/run/podman/podman.sock"
HEAVY = ("typer", "rich", "sqlite_utils", "asyncio", "pydantic", "pynchy_cli.core.config")


def imported_by(argv: list[str], env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """Run the console script's entry with argv in a fresh interpreter: (stdout, modules)."""
    probe = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        sys.argv = ["pynchy", *{argv!r}]
        out = io.StringIO()
        from pynchy_cli.cli.launch import run
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            run()
        print(json.dumps([out.getvalue(), sorted(sys.modules)]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    output, modules = json.loads(done.stdout.splitlines()[-1])
    return output, set(modules)


def test_version_answers_before_anything_heavy_loads() -> None:
    output, modules = imported_by(["--version"])
    assert output == f"pynchy {__version__}\n"
    assert not modules & set(HEAVY)


def test_root_help_reads_no_config_and_opens_no_database() -> None:
    output, modules = imported_by(["--help"], {"PYNCHY_PLUGINS": ""})
    assert "agent" in output and "groups" in output and "--version" in output
    heavy = {"sqlite_utils", "pydantic_settings", "pynchy_cli.core.config", "openai", "httpx"}
    assert not modules & heavy


def test_a_command_module_imports_its_core_only_when_run() -> None:
    probe = "import sys, pynchy_cli.cli.main; print(sorted(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    modules = set(json.loads(done.stdout.replace("'", '"')))
    assert not modules & {"sqlite_utils", "pydantic", "asyncio", "rich.markdown", "pluggy"}


# --- a run in a real container ---------------------------------------------------------


@pytest.fixture
def podman_env(pynchy_home: Path) -> dict[str, str]:
    if not socket_answers(PODMAN_SOCKET):
        if os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1":
            pytest.fail(f"podman is not serving on {PODMAN_SOCKET}")
        pytest.skip("podman is not serving (run scripts/setup-podman)")
    return {**os.environ, "PYNCHY_HOME": str(pynchy_home), "PYNCHY_RUNTIME": "podman"}


def pynchy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("pynchy")
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env)


def containers_named(name: str) -> list[str]:
    listed = subprocess.run(
        ["podman", "ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def last_run(env: dict[str, str]) -> dict:
    return json.loads(pynchy(env, "agent", "ps", "--all", "--json").stdout)[0]


@pytest.mark.podman
def test_agent_run_returns_with_its_container_gone(podman_env) -> None:
    done = pynchy(podman_env, "agent", "run", "-m", "echo", "hello")
    assert done.returncode == 0, done.stderr
    assert "echo: hello" in done.stdout
    run = last_run(podman_env)
    assert run["status"] == "succeeded"
    trace = json.loads(pynchy(podman_env, "agent", "trace", run["id"], "--json").stdout)
    assert containers_named(trace["run"]["container"]) == []  # removed before the exit


BROKEN_CORE = """\
from pynchy_cli import hookimpl
from pynchy_cli.core.errors import ConfigError


def broken(choice, settings):
    raise ConfigError("the broken core cannot start", "Fix the broken plugin")


@hookimpl
def pynchy_agent_cores(register):
    register("broken", broken)
"""


@pytest.mark.podman
def test_a_core_that_cannot_be_built_fails_once_with_its_container_removed(
    podman_env, tmp_path: Path
) -> None:
    # The core is built while the container starts: a failure there still ends the run
    # with one error line, and the container it had started is removed.
    (tmp_path / "broken_core.py").write_text(BROKEN_CORE)
    info = tmp_path / "pynchy_broken_core-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pynchy-broken-core\n1.0\n")
    (info / "entry_points.txt").write_text("[pynchy]\nbroken = broken_core\n")
    env = {**podman_env, "PYTHONPATH": str(tmp_path)}
    done = pynchy(env, "agent", "run", "-m", "broken", "hello")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("pynchy: error:")]
    assert errors == ["pynchy: error: the broken core cannot start. Fix the broken plugin"]
    assert "Traceback" not in done.stderr
    run = last_run(env)
    assert run["status"] == "failed"
    trace = json.loads(pynchy(env, "agent", "trace", run["id"], "--json").stdout)
    assert trace["run"]["container"]
    assert containers_named(trace["run"]["container"]) == []


# --- the kept root help ------------------------------------------------------------------------

COMMAND_PLUGIN = """\
from pynchy_cli import hookimpl


@hookimpl
def pynchy_commands(app):
    @app.command("hi", help="{text}")
    def hi():
        print("hi there")
"""


def install_plugin(site: Path, name: str) -> None:
    """The package metadata of plugin NAME (module pynchy_NAME, already in site)."""
    info = site / f"pynchy_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pynchy-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[pynchy]\n{name} = pynchy_{name}\n")


def test_the_root_help_is_kept_and_shown_without_loading_the_cli() -> None:
    first, _ = imported_by(["--help"])
    again, modules = imported_by(["--help"])
    assert again == first and "Commands" in first
    assert not modules & set(HEAVY)  # the kept page: no typer, rich or config
    env = {**os.environ, "COLUMNS": "100"}
    bare = pynchy(env)
    assert bare.returncode == 2
    assert "[OPTIONS] COMMAND [ARGS]" in bare.stdout
    assert pynchy(env).stdout == bare.stdout and pynchy(env).returncode == 2
    assert pynchy(env, "--help").returncode == 0
    wide = pynchy({**env, "COLUMNS": "160"}, "--help").stdout
    assert max(map(len, wide.splitlines())) > 100  # a wider terminal: a page of its own


def test_the_root_help_follows_installs_plugin_edits_and_config(
    pynchy_home: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200", "PYNCHY_HOME": str(pynchy_home)}
    assert "Say hi." not in pynchy(env, "--help").stdout
    pynchy(env, "--help")  # kept
    (site / "pynchy_hi.py").write_text(COMMAND_PLUGIN.format(text="Say hi."))
    install_plugin(site, "hi")
    installed = pynchy(env, "--help").stdout
    assert "Say hi." in installed
    assert pynchy(env, "--help").stdout == installed
    (site / "pynchy_hi.py").write_text(COMMAND_PLUGIN.format(text="Say hello, at length."))
    assert "Say hello, at length." in pynchy(env, "--help").stdout  # the plugin edited
    (pynchy_home / "config.toml").write_text("[plugin.hi]\nenabled = false\n")
    assert "Say hello" not in pynchy(env, "--help").stdout  # disabled in config


def test_a_plugin_warning_shows_on_every_root_help(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "pynchy_bad.py").write_text("import pynchy_no_such_module\n")
    install_plugin(site, "bad")
    env = {**os.environ, "PYTHONPATH": str(site)}
    first, second = pynchy(env, "--help"), pynchy(env, "--help")
    assert first.returncode == second.returncode == 0
    assert "bad" in first.stderr and second.stderr == first.stderr
