"""What a new user meets first: an unusable data folder, a broken config.toml, an unknown
runtime, `config show`, `groups list`, every command's --help and `pynchy doctor`, through
the real CLI (and `python -m pynchy_cli` where a separate process matters)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from pynchy_cli.cli.main import app
from pynchy_cli.core.errors import ExitCode
from pynchy_cli.core.plugins.manager import reset_plugins

HOME_COMMANDS = [["groups", "list"], ["agent", "ps"], ["config", "show"], ["tasks", "list"]]


def pynchy(home: Path | str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYNCHY_HOME": str(home), "PYNCHY_PLUGINS": ""}
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    return lines[0]


# --- the data folder ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["file", "under-a-file", "unwritable"])
def test_an_unusable_home_is_one_line_from_every_command(tmp_path: Path, where: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    home = {
        "file": afile,
        "under-a-file": afile / "home",
        "unwritable": Path("/sys/pynchy-home"),  # EPERM even for root
    }[where]
    for args in [*HOME_COMMANDS, ["serve", "--model", "echo", "--port", "1"]]:
        result = pynchy(home, *args)
        assert result.returncode == ExitCode.CONFIG, (args, result.stderr)
        line = error_line(result)
        assert line.startswith("pynchy: error: cannot ")
        assert f"{home} (PYNCHY_HOME)" in line
        assert line.endswith("Set PYNCHY_HOME to a folder you can write, or unset it")
        if where != "unwritable":
            assert f"{afile} is a file" in line
    assert afile.read_text() == "not a folder\n" and (afile.stat().st_mode & 0o777) != 0o700


def test_doctor_reports_an_unusable_home_as_a_failed_check(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    result = pynchy(afile, "doctor", "--json")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert (
        not checks["data folder"]["ok"] and f"{afile} is a file" in checks["data folder"]["detail"]
    )
    assert checks["database"]["detail"] == "not checked: no usable data folder"
    assert "Traceback" not in result.stderr


# --- config.toml ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "what"),
    [("model = [\n", "is not valid TOML"), ("[limits]\nrun_timeout = -5\n", "limits.run_timeout")],
)
def test_every_command_refuses_a_broken_config_the_same_way(
    cli, pynchy_home: Path, text: str, what: str
) -> None:
    config = pynchy_home / "config.toml"
    config.write_text(text)
    lines = set()
    for args in [
        *HOME_COMMANDS,
        ["groups", "add", "x"],
        ["audit"],
        ["plugin", "list"],
        ["agent", "run", "--model", "echo", "hi"],
        ["chat"],
    ]:
        result = cli(*args)
        assert result.exit_code == ExitCode.CONFIG, (args, result.output)
        [line] = result.stderr.strip().splitlines()
        assert what in line and str(config) in line, line
        lines.add(line)
    assert len(lines) == 1  # word for word the same
    assert config.read_text() == text
    # config path still says where the file is, and doctor reports it as a check
    assert cli("config", "path").exit_code == 0
    checks = {c["name"]: c for c in json.loads(cli("doctor", "--json").stdout)}
    assert not checks["config"]["ok"] and what in checks["config"]["detail"]


def test_serve_refuses_a_broken_config(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("model = [\n")
    result = pynchy(tmp_path, "serve", "--model", "echo", "--port", "1")
    assert result.returncode == ExitCode.CONFIG
    assert "is not valid TOML" in error_line(result)


# --- the runtime ---------------------------------------------------------------------------

KNOWN = "auto, podman, docker, process"


def test_an_unknown_runtime_is_refused_where_a_runtime_is_needed(cli, pynchy_home: Path) -> None:
    (pynchy_home / "config.toml").write_text('runtime = "chroot"\n')
    expected = (
        "unknown runtime 'chroot' in settings. "
        f"Set runtime to one of: {KNOWN} (or install the plugin that provides it)"
    )
    run = cli("agent", "run", "--model", "echo", "hi")
    assert run.exit_code == ExitCode.CONFIG and run.stderr.strip().endswith(expected)
    served = pynchy(pynchy_home, "serve", "--model", "echo", "--port", "1")
    assert served.returncode == ExitCode.CONFIG and error_line(served).endswith(expected)
    checks = {c["name"]: c for c in json.loads(cli("doctor", "--json").stdout)}
    assert not checks["runtime"]["ok"] and KNOWN in checks["runtime"]["fix"]
    shown = cli("config", "show")
    assert shown.exit_code == 0 and 'runtime = "chroot"' in shown.stdout
    assert shown.stderr.strip() == f"pynchy: warning: {expected}"
    # commands that run no agent keep working
    assert cli("groups", "list").exit_code == 0


# --- config show, groups list ----------------------------------------------------------------


def test_config_show_prints_nested_tables_as_toml(cli, pynchy_home: Path) -> None:
    (pynchy_home / "config.toml").write_text(
        textwrap.dedent("""\
            model = "echo"
            [mcp.time]
            command = ["python", "-m", "mcp_server_time"]
            tiers = { get_current_time = "read" }
            [accounts.work]
            provider = "openai"
            api_key = "sk-work-0123456789"
            [plugin.telegram]
            token = "123:abc"
            """)
    )
    shown = cli("config", "show")
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert "{'" not in out and "None" not in out  # no Python reprs
    assert "sk-work" not in out and "123:abc" not in out
    data = tomllib.loads(out)  # it is TOML: what config.toml would say
    assert data["model"] == "echo" and data["limits"]["max_turns"] == 50
    assert data["mcp"]["time"]["command"] == ["python", "-m", "mcp_server_time"]
    assert data["mcp"]["time"]["tiers"] == {"get_current_time": "read"}
    work = data["accounts"]["work"]
    assert (work["provider"], work["api_key"]) == ("openai", "**** (set)")
    assert "[mcp.time]\n" in out and "# base_url: not set" in out and "# account: not set" in out


def test_groups_list_shows_the_trigger_that_works(cli) -> None:
    assert cli("groups", "add", "main", "--admin").exit_code == 0
    assert cli("groups", "add", "family").exit_code == 0
    assert cli("groups", "add", "work", "--trigger", "@bot").exit_code == 0
    out = cli("groups", "list").stdout.splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in out}
    trigger = out[0].split("\t").index("trigger")
    assert rows["main"][trigger] == "(all messages)"
    assert rows["family"][trigger] == "@Pynchy"
    assert rows["work"][trigger] == "@bot"
    shown = json.loads(cli("groups", "show", "family", "--json").stdout)
    assert (shown["trigger"], shown["effective_trigger"]) == (None, "@Pynchy")
    listed = {g["name"]: g for g in json.loads(cli("groups", "list", "--json").stdout)}
    assert listed["main"]["effective_trigger"] == "(all messages)"


# --- --help --------------------------------------------------------------------------------


def _commands(command, path: list[str]):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, [*path, name])


def test_every_help_shows_click_metavars_and_its_brackets() -> None:
    runner = CliRunner()
    seen = 0
    for path, command in _commands(typer.main.get_command(app), []):
        out = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}).stdout
        assert "Usage:" in out, path
        odd = re.findall(r"<[a-z][^<>\s]*>|\{[A-Za-z_]+\}", out)
        assert not odd, (path, odd)  # no <str>, <bool>, {name}
        for param in command.params:
            for piece in re.findall(r"\[[^\]\s]+\]", param.help or ""):
                assert piece in out, (path, piece)  # rich markup ate no [plugin.NAME]
        seen += 1
    assert seen > 40
    groups_add = runner.invoke(app, ["groups", "add", "--help"], env={"COLUMNS": "200"}).stdout
    assert "pynchy groups add [OPTIONS] NAME" in groups_add
    assert re.search(r"--trigger +TEXT ", groups_add) and re.search(r"--admin +The", groups_add)
    assert re.search(r"--folder +PATH ", groups_add) and "[profiles]" in groups_add
    install = runner.invoke(app, ["plugin", "install", "--help"], env={"COLUMNS": "200"}).stdout
    assert "pynchy plugin install [OPTIONS] SPECS..." in install


# --- doctor: MCP servers and channels ------------------------------------------------------

FLAKY_CHANNEL = """\
from pynchy_cli import hookimpl


class Channel:
    def __init__(self, settings):
        table = settings.plugin.get("flaky", {})
        if "room" not in table:
            raise ValueError("[plugin.flaky] needs a room")


@hookimpl
def pynchy_channels(register):
    register("flaky", Channel)
"""


@pytest.fixture
def flaky_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A channel plugin without a doctor hook, as a real distribution on sys.path."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "pynchy_flaky.py").write_text(FLAKY_CHANNEL)
    info = root / "pynchy_flaky-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pynchy-flaky\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pynchy]\nflaky = pynchy_flaky\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYNCHY_PLUGINS", "flaky")
    reset_plugins()
    yield
    reset_plugins()


def test_doctor_starts_each_mcp_server_and_builds_each_channel(
    cli, pynchy_home: Path, flaky_plugin
) -> None:
    crash = "import sys; sys.stderr.write('no API key set\\n'); sys.exit(3)"
    (pynchy_home / "config.toml").write_text(
        textwrap.dedent(f"""\
            model = "echo"
            [mcp.time]
            command = [{json.dumps(sys.executable)}, "-m", "mcp_server_time"]
            [mcp.nope]
            command = ["/nonexistent/mcp-server"]
            [mcp.crash]
            command = [{json.dumps(sys.executable)}, "-c", {json.dumps(crash)}]
            [mcp.off]
            command = ["/nonexistent/too"]
            enabled = false
            """)
    )
    result = cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["mcp time"]["ok"]
    assert checks["mcp time"]["detail"] == "2 tool(s): get_current_time, convert_time"
    assert (
        not checks["mcp nope"]["ok"] and "/nonexistent/mcp-server" in checks["mcp nope"]["detail"]
    )
    assert "[mcp.nope] in config.toml" in checks["mcp nope"]["fix"]
    assert not checks["mcp crash"]["ok"] and "no API key set" in checks["mcp crash"]["detail"]
    assert "mcp off" not in checks
    assert checks["channel terminal"] == {
        "name": "channel terminal",
        "ok": True,
        "detail": "builds (no credentials to check)",
        "fix": None,
        "required": True,
    }
    flaky = checks["channel flaky"]
    assert not flaky["ok"] and "ValueError: [plugin.flaky] needs a room" in flaky["detail"]
    assert flaky["fix"] == "See: pynchy plugin info flaky"
    assert result.exit_code == 1
    (pynchy_home / "config.toml").write_text('model = "echo"\n[plugin.flaky]\nroom = "x"\n')
    fixed = {c["name"]: c for c in json.loads(cli("doctor", "--json").stdout)}
    assert fixed["channel flaky"]["ok"]
