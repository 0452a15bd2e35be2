"""Plugins: discovery through real package metadata, the five kinds, and `pynchy plugin`.

Third-party plugins are installed for real, with `pynchy plugin install` (pip), into
temporary virtual environments that see this checkout's .venv through a .pth file, and
exercised through `python -m pynchy_cli` in those environments. In-process tests put a
real dist-info folder on sys.path. Each environment is made once per session.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import ConfigError, ConflictError, UsageError
from pynchy_cli.core.models import UNKNOWN_MODEL_HINT, parse_model
from pynchy_cli.core.plugins import admin, scaffold
from pynchy_cli.core.plugins.hookspecs import Problem, hookimpl
from pynchy_cli.core.plugins.manager import Plugins, plugins_for, reset_plugins
from pynchy_cli.core.runtimes.select import get_runtime

ROOT = Path(__file__).resolve().parent.parent
APPLE = ROOT / "plugins" / "pynchy-apple-container"
_SCRUB = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")


# --- environments --------------------------------------------------------------------------


class Venv:
    """A virtual environment whose Python also sees this checkout's .venv (pynchy and its
    dependencies), so pip installs plugins into it alone."""

    def __init__(self, path: Path):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        self.path = path
        self.python = str(path / "bin" / "python")
        purelib = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        base = sysconfig.get_paths()["purelib"]
        Path(purelib, "_pynchy_base.pth").write_text(f"import site; site.addsitedir({base!r})\n")

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PYNCHY_") and k not in _SCRUB and k != "PYTHONPATH"
        }
        env.update(PYNCHY_HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1", COLUMNS="200")
        env.update(extra)
        return env

    def pynchy(self, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        home.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [self.python, "-m", "pynchy_cli", *args],
            capture_output=True,
            text=True,
            env=self.env(home, **env),
            cwd=str(home),
        )

    def pytest(self, home: Path, folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
            capture_output=True,
            text=True,
            env=self.env(home),
            cwd=str(folder),
        )


def package(root: Path, dist: str, entry_points: dict[str, str], files: dict[str, str]) -> Path:
    """A plugin source package (hatchling, like the scaffold's) under root/dist."""
    folder = root / dist
    module = dist.replace("-", "_")
    eps = "\n".join(f'{name} = "{value}"' for name, value in entry_points.items())
    (folder / module).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"

            [project]
            name = "{dist}"
            version = "0.3.0"
            dependencies = ["pynchy"]

            [project.entry-points.pynchy]
            """)
        + eps
        + "\n"
    )
    for name, text in files.items():
        (folder / module / name).write_text(textwrap.dedent(text))
    return folder


# A third-party plugin of three kinds, written against the public API only: a runtime that
# runs the agent as a host subprocess (in-container paths mapped to the mounts), a
# deterministic agent core, and a command group.
DEMO = """\
import os
import signal
import subprocess
import sys
import tempfile

import typer

from pynchy_cli import ContainerHandle, ModelResult, Usage, hookimpl


def host_path(path, mounts):
    best = None
    for mount in mounts:
        target = mount.target.rstrip("/")
        if path == target or path.startswith(target + "/"):
            if best is None or len(target) > len(best.target.rstrip("/")):
                best = mount
    if best is None:
        return None
    rest = path[len(best.target.rstrip("/")):].lstrip("/")
    return os.path.join(best.source, rest) if rest else best.source


class SubprocRuntime:
    name = "subproc"
    isolated = False

    def __init__(self):
        self.children = {}
        self.logs_dir = tempfile.mkdtemp(prefix="pynchy-demo-")

    def start(self, spec):
        env = {"PATH": os.environ["PATH"], "HOME": "/tmp", "PYTHONUNBUFFERED": "1"}
        for key, value in spec.env.items():
            env[key] = host_path(value, spec.mounts) or value
        command = list(spec.command)
        if command[0] == "python3":
            command[0] = sys.executable
        log = open(os.path.join(self.logs_dir, spec.name), "wb")
        child = subprocess.Popen(
            command, env=env, cwd=host_path(spec.workdir, spec.mounts), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.children[spec.name] = child
        return ContainerHandle(spec.name, str(child.pid), self.name, pid=child.pid)

    def wait(self, handle, timeout):
        child = self.children.get(handle.name)
        if child is None:
            return 137
        try:
            return child.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, handle, grace=5.0):
        child = self.children.get(handle.name)
        if child is not None and child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()

    def logs(self, handle):
        path = os.path.join(self.logs_dir, handle.name)
        return iter(open(path).read().splitlines() if os.path.exists(path) else [])

    def remove(self, handle):
        return None

    def list_pynchy(self):
        return []

    def cleanup_orphans(self, keep):
        return []


RUNTIME = SubprocRuntime()


class DemoCore:
    provider = "demo"

    def __init__(self, model):
        self.model = model or "plain"

    async def complete(self, *, system, messages, tools, max_tokens):
        text = ""
        for message in messages:
            if message["role"] == "user":
                blocks = message["content"]
                if isinstance(blocks, str):
                    text = blocks
                else:
                    text = next((b["text"] for b in blocks if b.get("type") == "text"), text)
        answer = f"demo({self.model}): {text[::-1]}"
        return ModelResult([{"type": "text", "text": answer}], "end_turn", Usage(1, 1), self.model)

    async def aclose(self):
        return None


cli = typer.Typer(no_args_is_help=True)


@cli.command()
def hello(who: str):
    typer.echo(f"hello {who} from demo")


@hookimpl
def pynchy_runtimes(register):
    register("subproc", lambda settings: RUNTIME)


@hookimpl
def pynchy_agent_cores(register):
    register("demo", lambda choice, settings: DemoCore(choice.name))


@hookimpl
def pynchy_commands(app):
    app.add_typer(cli, name="demo")
"""

BROKEN = """\
import pynchy_no_such_dependency  # what a plugin with a missing dependency does
"""


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin-sources")
    package(root, "pynchy-demo", {"demo": "pynchy_demo"}, {"__init__.py": DEMO})
    package(root, "pynchy-broken", {"broken": "pynchy_broken"}, {"__init__.py": BROKEN})
    return root


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, sources: Path):
    """A venv with the Apple Container plugin, the demo plugin and a broken one, all three
    installed in one `pynchy plugin install`."""
    venv = Venv(tmp_path_factory.mktemp("venv") / "v")
    home = tmp_path_factory.mktemp("home")
    specs = [str(APPLE), str(sources / "pynchy-demo"), str(sources / "pynchy-broken")]
    done = venv.pynchy(home, "plugin", "install", *specs)
    assert done.returncode == 0, done.stderr
    return venv, done


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("pynchy: warning:")]


# --- built-ins and the registry (in process) --------------------------------------------


@pytest.fixture
def fresh_plugins():
    reset_plugins()
    yield
    reset_plugins()


def test_builtins_register_through_the_hooks(fresh_plugins) -> None:
    plugins = plugins_for(Settings())
    builtins = plugins.infos["builtins"]
    assert builtins.source == "builtin" and builtins.status == "enabled"
    assert builtins.registered == {
        "runtimes": ["auto", "podman", "docker", "process"],
        "agent_cores": ["echo", "scripted", "anthropic", "openai"],
        "channels": ["terminal"],
        # the shipped periodic agents' servers (core.periodic.shipped.registration)
        "mcp_servers": [
            *("security-sweep", "code-simplifier", "upstream-check"),
            *("log-recovery", "health-report"),
        ],
    }
    assert plugins.registry.owners[("runtime", "podman")] == "builtins"
    assert plugins_for(Settings()) is plugins  # cached per process
    reset_plugins()
    assert plugins_for(Settings()) is not plugins


def test_models_and_runtimes_resolve_through_the_registry(fresh_plugins) -> None:
    from pynchy_cli.core import models

    assert {"echo", "scripted", "anthropic", "openai"} <= set(models.PROVIDERS)
    with pytest.raises(ConfigError) as err:
        parse_model("nope:x")
    assert err.value.message == "unknown model 'nope:x'" and err.value.hint == UNKNOWN_MODEL_HINT
    with pytest.raises(UsageError) as err:
        get_runtime(Settings(), "lxc")
    assert "auto, podman, docker, process" in err.value.hint
    with pytest.raises(ConfigError, match="unknown runtime 'lxc' in settings"):
        get_runtime(Settings(runtime="lxc"))


def test_the_public_api_is_lazy() -> None:
    code = (
        "import sys, pynchy_cli\n"
        "assert not [m for m in sys.modules if m.startswith('pynchy_cli.core')], 'eager'\n"
        "names = [n for n in pynchy_cli.__all__ if n != '__version__']\n"
        "assert all(getattr(pynchy_cli, n) is not None for n in names)\n"
        "from pynchy_cli import hookimpl, Runtime, McpServer, PynchyError, ContainerSpec\n"
        "print(len(names))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 20


def dist_info(root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]):
    """A module and a real .dist-info (METADATA, entry_points.txt) on sys.path."""
    for name, text in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(text))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    eps = "".join(f"{n} = {v}\n" for n, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[pynchy]\n{eps}")


HOOKIMPL = "from pynchy_cli import hookimpl\n"


def test_plugins_that_do_not_validate_are_skipped(
    fresh_plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    dist_info(
        tmp_path,
        "pynchy-odd",
        {
            "typo": "odd_typo",
            "badargs": "odd_badargs",
            "raiser": "odd_raiser",
            "empty": "odd_empty",
            "dup": "odd_dup",
        },  # fmt: skip
        {
            "odd_typo": HOOKIMPL + "@hookimpl\ndef pynchy_runtime(register): pass\n",
            "odd_badargs": HOOKIMPL + "@hookimpl\ndef pynchy_runtimes(reg, extra): pass\n",
            "odd_raiser": HOOKIMPL
            + "@hookimpl\ndef pynchy_agent_cores(register):\n"
            + "    register('half', lambda c, s: None)\n    raise RuntimeError('no key')\n",
            "odd_empty": "x = 1\n",
            "odd_dup": HOOKIMPL
            + "@hookimpl\ndef pynchy_runtimes(register):\n"
            + "    register('podman', lambda s: None)\n    register('dupe-ok', lambda s: None)\n",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = plugins_for(Settings())
    infos = plugins.infos
    assert infos["typo"].error == "does not validate (unknown hook pynchy_runtime)"
    assert infos["badargs"].error.startswith("does not validate (PluginValidationError")
    assert infos["raiser"].error == "RuntimeError: no key while registering"
    assert infos["empty"].error == "does not validate (it implements no hook)"
    assert "half" not in plugins.registry.agent_cores
    assert plugins.registry.owners[("runtime", "podman")] == "builtins"
    assert plugins.registry.owners[("runtime", "dupe-ok")] == "dup"
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 5 and all(line.startswith("pynchy: warning: plugin ") for line in err)
    assert (
        "plugin typo skipped: does not validate (unknown hook pynchy_runtime); "
        "uninstall it with: pynchy plugin uninstall pynchy-odd"
        in err[-1]
        or any("uninstall it with: pynchy plugin uninstall pynchy-odd" in line for line in err)
    )
    assert any("runtime 'podman' is already provided by builtins" in line for line in err)
    plugins_for(Settings())  # cached: no second warning
    assert capsys.readouterr().err == ""


def test_plugin_commands_never_replace_builtins(
    fresh_plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from pynchy_cli.cli.plugin import add_plugin_commands

    dist_info(
        tmp_path,
        "pynchy-cmds",
        {"hi": "cmds_hi", "clash": "cmds_clash", "boom": "cmds_boom"},
        {
            "cmds_hi": HOOKIMPL
            + "@hookimpl\ndef pynchy_commands(app):\n"
            + "    @app.command('hi')\n    def hi():\n        print('hi there')\n",
            "cmds_clash": HOOKIMPL
            + "import typer\n@hookimpl\ndef pynchy_commands(app):\n"
            + "    app.add_typer(typer.Typer(), name='agent')\n",
            "cmds_boom": HOOKIMPL + "@hookimpl\ndef pynchy_commands(app):\n    1 / 0\n",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    root = typer.Typer()
    root.add_typer(typer.Typer(), name="agent")
    add_plugin_commands(root)
    err = capsys.readouterr().err
    assert "plugin clash commands not added: agent already exist" in err
    assert "plugin boom commands not added: ZeroDivisionError" in err
    assert "pynchy plugin uninstall pynchy-cmds" in err
    result = CliRunner().invoke(root, ["hi"])
    assert result.exit_code == 0 and "hi there" in result.output
    assert plugins_for(Settings()).infos["hi"].registered["commands"] == ["hi"]


def test_enable_and_disable_keep_the_rest_of_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    original = '# my settings\nmodel = "echo"  # offline\n\n[plugin.slack]\ntoken = "x"\n'
    config.write_text(original)
    assert admin.set_enabled(config, "demo", False)
    assert admin.set_enabled(config, "slack", False)
    text = config.read_text()
    assert text.startswith(original.rstrip("\n")) or "# offline" in text
    assert "[plugin.demo]\nenabled = false" in text and 'token = "x"\nenabled = false' in text
    assert not admin.set_enabled(config, "demo", False)  # already
    assert admin.set_enabled(config, "demo", True) and admin.set_enabled(config, "slack", True)
    assert config.read_text() == original
    assert not admin.set_enabled(config, "demo", True)
    config.write_text("model = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        admin.set_enabled(config, "demo", False)


def test_scaffold_names_and_refusals(tmp_path: Path) -> None:
    names = scaffold.Names.of("pynchy-Weather_Now")
    assert (names.plugin, names.dist, names.module, names.cls) == (
        "weather-now", "pynchy-weather-now", "pynchy_weather_now", "WeatherNow"
    )  # fmt: skip
    for bad in ("9lives", "a b", "x--y", "podman", "-x", "a" * 40):
        with pytest.raises(UsageError):
            scaffold.Names.of(bad)
    with pytest.raises(UsageError, match="unknown plugin kind"):
        scaffold.create("ok", "theme", tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("")
    with pytest.raises(ConflictError):
        scaffold.create("ok", "hook", tmp_path / "full")


# --- installed plugins, through the CLI of their environment ------------------------------


def test_install_reports_each_plugin(installed) -> None:
    _venv, done = installed
    assert (
        "installed plugin applecontainer 0.1.0 from pynchy-apple-container (runtime" in done.stderr
    )
    assert "installed plugin demo 0.3.0 from pynchy-demo (runtime, agent_core, commands" in (
        done.stderr
    )
    assert "installed plugin broken 0.3.0 from pynchy-broken (-; broken)" in done.stderr


def test_list_shows_kinds_and_one_warning_for_a_broken_plugin(installed, home: Path) -> None:
    venv, _ = installed
    done = venv.pynchy(home, "plugin", "list")
    assert done.returncode == 0, done.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in done.stdout.splitlines()}
    assert rows["applecontainer"] == ["applecontainer", "0.1.0", "runtime", "enabled",
                                      "pynchy-apple-container"]  # fmt: skip
    assert rows["demo"][2:4] == ["runtime, agent_core, commands", "enabled"]
    assert rows["broken"][2:] == ["-", "broken", "pynchy-broken"]
    mine = [w for w in warnings_in(done.stderr) if "plugin broken" in w]
    assert mine == [
        "pynchy: warning: plugin broken skipped: failed to import (ModuleNotFoundError: No "
        "module named 'pynchy_no_such_dependency'); uninstall it with: "
        "pynchy plugin uninstall pynchy-broken"
    ]
    only = venv.pynchy(home, "plugin", "list", PYNCHY_PLUGINS="broken,demo,applecontainer")
    assert only.returncode == 0 and only.stderr.splitlines() == mine


def test_list_json_and_info(installed, home: Path) -> None:
    venv, _ = installed
    done = venv.pynchy(home, "plugin", "list", "--json", PYNCHY_PLUGINS="demo,broken")
    listed = {p["name"]: p for p in json.loads(done.stdout)}
    assert listed["broken"]["status"] == "broken" and "pynchy_no_such" in listed["broken"]["error"]
    assert listed["applecontainer"]["status"] == "disabled (PYNCHY_PLUGINS)"
    info = json.loads(venv.pynchy(home, "plugin", "info", "demo", "--json").stdout)
    assert info["registered"] == {
        "runtimes": ["subproc"],
        "agent_cores": ["demo"],
        "commands": ["demo"],
    }
    assert info["module"] == "pynchy_demo" and info["source"] == "pynchy-demo"
    table = venv.pynchy(home, "plugin", "info", "pynchy-apple-container").stdout
    shown = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in table.splitlines())
    assert shown["runtimes"] == "applecontainer" and shown["source"] == "pynchy-apple-container"
    missing = venv.pynchy(home, "plugin", "info", "nope")
    assert missing.returncode == 4
    assert "pynchy: error: no plugin 'nope'. See: pynchy plugin list" in missing.stderr


def test_agent_run_uses_a_plugin_runtime_and_agent_core(installed, home: Path) -> None:
    venv, _ = installed
    done = venv.pynchy(home, "agent", "run", "--runtime", "subproc", "-m", "demo:rev", "abc def")
    assert done.returncode == 0, done.stderr
    assert "demo(rev): fed cba" in done.stdout
    runs = json.loads(venv.pynchy(home, "agent", "ps", "--all", "--json").stdout)
    assert (runs[0]["runtime"], runs[0]["model"], runs[0]["status"]) == (
        "subproc", "demo:rev", "succeeded"
    )  # fmt: skip
    bare = venv.pynchy(home, "agent", "run", "--runtime", "subproc", "-m", "demo", "xy")
    assert "demo(plain): yx" in bare.stdout
    unknown = venv.pynchy(home, "agent", "run", "--runtime", "subproc", "-m", "nodemo:x", "hi")
    assert unknown.returncode == 3
    assert "unknown model 'nodemo:x'. " + UNKNOWN_MODEL_HINT + " (from plugins: demo[:NAME])" in (
        unknown.stderr
    )


def test_commands_kind_adds_to_the_root_cli(installed, home: Path) -> None:
    venv, _ = installed
    done = venv.pynchy(home, "demo", "hello", "Ana")
    assert done.returncode == 0 and done.stdout == "hello Ana from demo\n"
    assert "demo" in venv.pynchy(home, "--help").stdout


def fake_container(folder: Path) -> dict[str, str]:
    """Apple's `container` CLI stand-in (the plugin's own test fake) on PATH."""
    bin_dir, state = folder / "bin", folder / "state"
    bin_dir.mkdir(parents=True)
    state.mkdir()
    exe = bin_dir / "container"
    fake = APPLE / "tests" / "fake_container.py"
    exe.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(fake)!r}, run_name='__main__')\n"
    )
    exe.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_CONTAINER_DIR": str(state)}


def test_agent_run_drives_apple_container(installed, home: Path, tmp_path: Path) -> None:
    venv, _ = installed
    env = fake_container(tmp_path / "fake")
    done = venv.pynchy(
        home, "agent", "run", "--runtime", "applecontainer", "-m", "echo", "hi", **env
    )
    # The fake starts nothing: the container "stops" without the agent ever answering.
    assert done.returncode == 1
    calls = [json.loads(x) for x in (tmp_path / "fake/state/calls.jsonl").read_text().splitlines()]
    [run] = [argv for argv in calls if argv[0] == "run"]
    assert run[:3] == ["run", "--detach", "--name"] and run[3].startswith("pynchy-main-")
    assert run[run.index("--network") + 1] == "none"
    assert f"{home}/groups/main:/workspace" in run
    assert any(arg.endswith(":ro") for arg in run)
    assert run[-3:] == ["python3", "-m", "pynchy_agent"]
    assert calls[-1][:2] == ["delete", "--force"]
    ps = json.loads(venv.pynchy(home, "agent", "ps", "--all", "--json").stdout)
    assert ps[0]["runtime"] == "applecontainer"
    doctor = venv.pynchy(home, "doctor", PYNCHY_RUNTIME="applecontainer", **env)
    assert re.search(r"runtime +applecontainer \(from a plugin\)", doctor.stdout)
    assert "plugins   " in doctor.stdout and "broken: broken (failed to import" in doctor.stdout
    assert "fix: Uninstall them: pynchy plugin uninstall pynchy-broken" in doctor.stdout


def test_the_apple_container_plugin_passes_its_own_tests(installed, home: Path) -> None:
    venv, _ = installed
    done = venv.pytest(home, APPLE / "tests")
    assert done.returncode == 0, done.stdout + done.stderr


def test_allow_list_and_disable(installed, home: Path) -> None:
    venv, _ = installed
    only_demo = venv.pynchy(home, "agent", "run", "--runtime", "applecontainer", "-m", "echo", "hi",
                            PYNCHY_PLUGINS="demo")  # fmt: skip
    assert only_demo.returncode == 2 and "unknown runtime 'applecontainer'" in only_demo.stderr
    assert "Use one of: auto, podman, docker, process, subproc" in only_demo.stderr
    assert not warnings_in(only_demo.stderr)  # the broken plugin is not even imported

    for name in ("demo", "broken"):
        done = venv.pynchy(home, "plugin", "disable", name)
        assert done.returncode == 0, done.stderr
    assert "[plugin.demo]\nenabled = false" in (home / "config.toml").read_text()
    listed = venv.pynchy(home, "plugin", "list")
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.stdout.splitlines()}
    assert rows["demo"][2:4] == ["-", "disabled (config)"]
    assert rows["broken"][2:4] == ["-", "disabled (config)"]
    assert not [w for w in warnings_in(listed.stderr) if "broken" in w]
    off = venv.pynchy(home, "agent", "run", "--runtime", "subproc", "-m", "echo", "hi")
    assert off.returncode == 2 and "unknown runtime 'subproc'" in off.stderr
    assert venv.pynchy(home, "demo", "hello", "x").returncode == 2  # its commands are gone too

    assert venv.pynchy(home, "plugin", "enable", "pynchy-demo").returncode == 0  # by dist name
    assert "[plugin.demo]" not in (home / "config.toml").read_text()
    assert venv.pynchy(home, "demo", "hello", "x").returncode == 0


def test_enable_and_disable_refuse_unknown_and_builtin_names(fresh_plugins) -> None:
    from pynchy_cli.core.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no plugin 'nope' is installed"):
        admin.known_plugin("nope")
    with pytest.raises(UsageError, match="part of pynchy"):
        admin.known_plugin("builtins")
    with pytest.raises(UsageError) as err:
        admin.distribution_of("builtins")
    assert err.value.hint == "Built-in plugins cannot be uninstalled"


def test_uninstall_by_plugin_name(tmp_path: Path, sources: Path) -> None:
    venv, home = Venv(tmp_path / "v"), tmp_path / "home"
    assert venv.pynchy(home, "plugin", "install", str(sources / "pynchy-broken")).returncode == 0
    done = venv.pynchy(home, "plugin", "uninstall", "broken")
    assert done.returncode == 0, done.stderr
    assert "uninstalled pynchy-broken (plugin broken)" in done.stderr
    listed = json.loads(venv.pynchy(home, "plugin", "list", "--json").stdout)
    assert "broken" not in [p["name"] for p in listed]
    again = venv.pynchy(home, "plugin", "uninstall", "broken")
    assert again.returncode == 4 and "no plugin 'broken' is installed" in again.stderr
    bad = venv.pynchy(home, "plugin", "install", str(tmp_path / "no-such-dir"))
    assert bad.returncode == 5 and "pynchy: error: pip could not install" in bad.stderr


# --- scaffolded plugins: one of each kind ------------------------------------------------


@pytest.fixture(scope="session")
def scaffolded(tmp_path_factory: pytest.TempPathFactory):
    """`pynchy plugin new` for every kind, all installed with one `pynchy plugin install`."""
    from pynchy_cli.cli.main import app

    root = tmp_path_factory.mktemp("scaffold")
    venv, home = Venv(root / "venv"), root / "home"
    folders = {}
    for kind in scaffold.KINDS:
        name = "my-" + kind.replace("_", "")
        done = CliRunner().invoke(
            app, ["plugin", "new", name, "--kind", kind, "--dir", str(root / name)]
        )
        assert done.exit_code == 0, done.output
        assert f"created pynchy-{name} ({kind})" in done.stderr
        folders[kind] = root / name
    # Build with the backend installed once: seven isolated builds would each install it.
    pip = [venv.python, "-m", "pip", "install", "-q", "hatchling>=1.25"]
    subprocess.run(pip, check=True, capture_output=True, env=venv.env(home))
    specs = map(str, folders.values())
    done = venv.pynchy(home, "plugin", "install", "--no-build-isolation", *specs)
    assert done.returncode == 0, done.stderr
    return venv, home, folders


def test_scaffolded_plugins_install_and_are_listed(scaffolded) -> None:
    venv, home, folders = scaffolded
    listed = {
        p["name"]: p for p in json.loads(venv.pynchy(home, "plugin", "list", "--json").stdout)
    }
    for kind in folders:
        info = listed["my-" + kind.replace("_", "")]
        assert info["status"] == "enabled" and info["kinds"] == [kind], info
    assert listed["my-skill"]["registered"] == {"skills": ["my-skill"]}
    assert listed["my-mcp"]["registered"] == {"mcp_servers": ["my-mcp"]}
    assert listed["my-hook"]["registered"]["hooks"] == [
        "pynchy_before_run", "pynchy_before_tool", "pynchy_after_run"
    ]  # fmt: skip


@pytest.mark.parametrize("kind", scaffold.KINDS)
def test_scaffolded_plugin_passes_its_generated_tests(scaffolded, kind: str) -> None:
    venv, home, folders = scaffolded
    done = venv.pytest(home, folders[kind] / "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout


@pytest.mark.parametrize("kind", scaffold.KINDS)
def test_scaffolded_plugin_passes_ruff(scaffolded, kind: str) -> None:
    """What `pynchy plugin new` writes is lint- and format-clean under its own ruff settings."""
    _venv, _home, folders = scaffolded
    ruff = Path(sys.executable).parent / "ruff"
    assert ruff.exists(), "ruff is part of pynchy's test extra: pip install -e '.[test]'"
    for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        done = subprocess.run(
            [str(ruff), *args, "."], cwd=folders[kind], capture_output=True, text=True
        )
        assert done.returncode == 0, f"ruff {args[0]}: {done.stdout}{done.stderr}"


# --- pynchy_doctor --------------------------------------------------------------------------


class _CheckedChannel:
    """A plugin with a channel and a doctor check that finds the token missing."""

    @hookimpl
    def pynchy_channels(self, register):
        register("chat", lambda settings: None)

    @hookimpl
    def pynchy_doctor(self, settings):
        return [Problem("chat", "chat: no token", "Set CHAT_TOKEN")]


class _BrokenCheck:
    """A plugin whose doctor check raises, and one that answers nonsense."""

    @hookimpl
    def pynchy_channels(self, register):
        register("a", lambda settings: None)
        register("b", lambda settings: None)

    @hookimpl
    def pynchy_doctor(self):
        raise RuntimeError("boom")


class _OddAnswer:
    @hookimpl
    def pynchy_doctor(self, settings):
        return [("what", "fix")]


def test_doctor_hook_answers_and_failures_become_problems() -> None:
    plugins = Plugins(allow=set())
    for name, plugin in (("checked", _CheckedChannel()), ("broken", _BrokenCheck())):
        plugins.add_builtin(name, plugin)
    plugins.add_builtin("odd", _OddAnswer())
    plugins.collect()
    answers = plugins.doctor_problems(Settings())
    assert answers["checked"] == [Problem("chat", "chat: no token", "Set CHAT_TOKEN")]
    fix = "pynchy plugin info broken"
    assert answers["broken"] == [
        Problem("a", "its check failed: boom", fix),
        Problem("b", "its check failed: boom", fix),
    ]
    [odd] = answers["odd"]  # no channel: the plugin's own name
    assert odd.name == "odd" and "wanted a list of Problem" in odd.what


# --- before_tool: which tool calls a hook is asked about ------------------------------------


class _WatchesItsOwnTools:
    @hookimpl
    def pynchy_before_tool(self, run, tool, arguments):
        return None

    pynchy_before_tool.tools = ("write_file", "mcp__mine__")


class _WatchesEverything:
    @hookimpl
    def pynchy_before_tool(self, run, tool, arguments):
        return None


def test_a_before_tool_hook_is_asked_only_about_the_tools_it_names() -> None:
    import pluggy

    from pynchy_cli.core.plugins.hookspecs import PynchySpecs
    from pynchy_cli.core.plugins.lifecycle import Hooks

    pm = pluggy.PluginManager("pynchy")
    pm.add_hookspecs(PynchySpecs)
    pm.register(_WatchesItsOwnTools(), name="own")
    hooks = Hooks(pm)
    assert hooks.asks_about("pynchy_before_tool", "write_file")
    assert hooks.asks_about("pynchy_before_tool", "mcp__mine__search")
    # bash and other tools run in the container without a round trip to the host
    assert not hooks.asks_about("pynchy_before_tool", "bash")
    assert not hooks.asks_about("pynchy_before_tool", "mcp__minefield__x")
    pm.register(_WatchesEverything(), name="all")
    assert hooks.asks_about("pynchy_before_tool", "bash")
    # a hook the group's settings turn off is not asked
    assert not Hooks(pm, acts=lambda plugin: plugin == "own").asks_about(
        "pynchy_before_tool", "bash"
    )
