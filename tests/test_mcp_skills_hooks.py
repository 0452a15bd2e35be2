"""MCP servers, skills and lifecycle hooks in real agent runs.

MCP: the reference server `mcp-server-time` (from PyPI, unchanged) and a small server
written with the SDK's MCPServer class (tests/fakes/mcp_notes_server.py), run by the host
over stdio and streamable HTTP. Plugins: tests/plugins/pynchy_testplug, built into a wheel,
pip-installed into a temporary folder and found through its entry point by a `pynchy`
subprocess that has that folder on its path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import bash, call, tool_results, write_script

from pynchy_cli.core.config import Settings
from pynchy_cli.core.plugins.mcp import McpServer, ServerFactory, declared_servers
from pynchy_cli.core.runtimes.detect import socket_answers

TESTS = Path(__file__).parent
NOTES_SERVER = TESTS / "fakes" / "mcp_notes_server.py"
PLUGIN_SRC = TESTS / "plugins" / "pynchy_testplug"
PODMAN_SOCKET = "/run/podman/podman.sock"
REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"
TIME_SERVER = f'command = ["{sys.executable}", "-m", "mcp_server_time"]'


@pytest.fixture
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def write_config(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text)


def last_trace(cli) -> dict:
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    return json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)


def audit_rows(home: Path) -> list[dict]:
    with sqlite3.connect(home / "pynchy.db") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("select action, decision, tier, detail from audit order by id").fetchall()
    return [{**dict(r), "detail": json.loads(r["detail"] or "{}")} for r in rows]


def check_utc_now(content: str) -> None:
    """A real answer of mcp-server-time: the current time in UTC."""
    answer = json.loads(content)
    assert answer["timezone"] == "Etc/UTC"
    when = datetime.fromisoformat(answer["datetime"])
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=5)


# --- MCP servers from config.toml -------------------------------------------------------


def test_reference_time_server_from_config(cli, tmp_path, pynchy_home, process_runtime):
    write_config(pynchy_home, f'[mcp.time]\n{TIME_SERVER}\nrisk = "read"\ngroups = ["main"]\n')
    model = write_script(
        tmp_path / "s.json",
        [{"tool_calls": [call("mcp__time__get_current_time", timezone="Etc/UTC")]}, {"text": "ok"}],
    )
    result = cli("agent", "run", "--model", model, "what time is it?")
    assert result.exit_code == 0, result.output
    trace = last_trace(cli)
    assert "mcp__time__get_current_time" in trace["run"]["system_prompt"]
    assert "mcp__time__convert_time" in trace["run"]["system_prompt"]
    [answer] = tool_results(trace)
    assert not answer["is_error"], answer
    check_utc_now(answer["content"])
    allowed = [
        r for r in audit_rows(pynchy_home) if r["action"] == "tool:mcp__time__get_current_time"
    ]
    assert [(r["decision"], r["tier"]) for r in allowed] == [("allowed", "read")]


def notes_config(tmp_path: Path, risk: str = "write", extra: str = "") -> tuple[str, Path]:
    notes = tmp_path / "notes.txt"
    text = (
        f'[mcp.notes]\ncommand = ["{sys.executable}", "{NOTES_SERVER}"]\nrisk = "{risk}"\n'
        f'env = {{ NOTES_FILE = "{notes}", NOTES_SECRET = "hunter2-on-the-host" }}\n{extra}'
    )
    return text, notes


def test_mcpserver_tools_args_checked_env_stays_on_host(
    cli, tmp_path, pynchy_home, process_runtime
):
    config, notes = notes_config(tmp_path)
    write_config(pynchy_home, config)
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("mcp__notes__add", a=2, b=3),
                    call("mcp__notes__record", text="first"),
                    call("mcp__notes__record", text=5),  # wrong type
                    call("mcp__notes__record"),  # missing argument
                    call("mcp__notes__add", a=1, b="2"),
                    call("mcp__notes__secret_length"),
                    call("mcp__notes__fail"),
                    bash("env; echo SECRET=${NOTES_SECRET:-none}"),
                ]
            },
            {"text": "done"},
        ],
    )
    result = cli("agent", "run", "--model", model, "use the notes")
    assert result.exit_code == 0, result.output
    results = tool_results(last_trace(cli))
    assert [(r["content"], r["is_error"]) for r in results[:2]] == [
        ("5", False),
        ("recorded 'first'", False),
    ]
    for refused in results[2:5]:
        assert refused["is_error"] and "invalid arguments" in refused["content"], refused
    assert "5 is not of type 'string'" in results[2]["content"]
    assert "'text' is a required property" in results[3]["content"]
    assert results[5]["content"] == "the secret has 19 characters"
    assert results[6]["is_error"] and "fail" in results[6]["content"]  # the server said so
    # the refused calls never reached the server; its credentials never reached the agent
    assert notes.read_text() == "first\n"
    assert "SECRET=none" in results[7]["content"] and "hunter2" not in results[7]["content"]
    decisions = [
        (r["action"], r["decision"]) for r in audit_rows(pynchy_home) if "notes" in r["action"]
    ]
    assert decisions.count(("tool:mcp__notes__record", "refused")) == 2
    assert ("tool:mcp__notes__record", "allowed") in decisions


def test_external_risk_needs_approval(cli, tmp_path, pynchy_home, process_runtime):
    config, notes = notes_config(tmp_path, risk="external")
    write_config(pynchy_home, config)
    model = write_script(
        tmp_path / "s.json", [{"tool_calls": [call("mcp__notes__record", text="x")]}, {"text": "k"}]
    )
    assert cli("agent", "run", "--model", model, "record").exit_code == 0
    [refused] = tool_results(last_trace(cli))
    assert refused["is_error"] and "needs approval" in refused["content"]
    assert not notes.exists()
    [row] = [r for r in audit_rows(pynchy_home) if r["action"] == "tool:mcp__notes__record"]
    assert (
        row["decision"] == "denied" and row["detail"]["reason"] == "not approved"
    )  # no terminal to ask


def test_group_not_allowed_and_broken_server(cli, tmp_path, pynchy_home, process_runtime):
    write_config(
        pynchy_home,
        f'[mcp.time]\n{TIME_SERVER}\nrisk = "read"\ngroups = ["family"]\n\n'
        '[mcp.broken]\ncommand = ["/nonexistent/mcp-server"]\nrisk = "read"\n',
    )
    model = write_script(
        tmp_path / "s.json",
        [{"tool_calls": [call("mcp__time__get_current_time", timezone="Etc/UTC")]}, {"text": "k"}],
    )
    result = cli("agent", "run", "--model", model, "time?")
    assert result.exit_code == 0, result.output
    trace = last_trace(cli)
    assert trace["run"]["status"] == "succeeded"
    # Neither configured server is offered (installed plugins may offer their own).
    assert "mcp__time__" not in trace["run"]["system_prompt"]
    assert "mcp__broken__" not in trace["run"]["system_prompt"]
    [answer] = tool_results(trace)
    assert answer["is_error"] and "not available in this run" in answer["content"]
    warnings = [e["data"]["message"] for e in trace["events"] if e["kind"] == "error"]
    assert any("MCP server broken did not start" in w for w in warnings), warnings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_server(cli, tmp_path, pynchy_home, process_runtime):
    notes, port = tmp_path / "notes.txt", free_port()
    env = {**os.environ, "NOTES_FILE": str(notes)}
    server = subprocess.Popen(
        [sys.executable, str(NOTES_SERVER), "--http", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        write_config(
            pynchy_home,
            f'[mcp.remote]\nurl = "http://127.0.0.1:{port}/mcp"\nrisk = "write"\n'
            'headers = { Authorization = "Bearer host-only" }\n',
        )
        model = write_script(
            tmp_path / "s.json",
            [{"tool_calls": [call("mcp__remote__record", text="over http")]}, {"text": "k"}],
        )
        result = cli("agent", "run", "--model", model, "record")
        assert result.exit_code == 0, result.output
        [answer] = tool_results(last_trace(cli))
        assert answer == {**answer, "content": "recorded 'over http'", "is_error": False}
        assert notes.read_text() == "over http\n"
        shown = cli("config", "show", "--json")
        if shown.exit_code == 0:  # MCP headers are credentials: never printed
            assert "host-only" not in shown.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- skills -----------------------------------------------------------------------------


def make_skill(folder: Path, name: str, description: str, body: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: {description}\n---\n{body}\n"
    )
    return folder


def test_skills_listed_in_prompt_and_read_on_demand(cli, tmp_path, pynchy_home, process_runtime):
    user = make_skill(
        pynchy_home / "skills" / "release-notes",
        "release-notes",
        "How to write release notes.",
        "USER-SKILL-BODY: list changes by kind.",
    )
    (user / "reference.md").write_text("REFERENCE-TEXT")
    group = pynchy_home / "groups" / "main"
    make_skill(
        group / ".claude" / "skills" / "greeting",
        "greeting",
        '"Greet people warmly."',
        "GROUP-SKILL-BODY",
    )
    (group / ".claude" / "skills" / "escape").symlink_to(pynchy_home / "skills" / "release-notes")
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("read_skill", name="release-notes"),
                    call("read_skill", name="release-notes", file="reference.md"),
                    call("read_skill", name="release-notes", file="../../config.toml"),
                    call("read_skill", name="greeting"),
                    call("read_skill", name="nope"),
                ]
            },
            {"text": "done"},
        ],
    )
    result = cli("agent", "run", "--model", model, "write the notes")
    assert result.exit_code == 0, result.output
    trace = last_trace(cli)
    prompt = trace["run"]["system_prompt"]
    assert "- release-notes: How to write release notes." in prompt
    assert "- greeting: Greet people warmly." in prompt
    assert "BODY" not in prompt and "read_skill" in prompt
    results = [r["content"] for r in tool_results(trace)]
    assert "USER-SKILL-BODY" in results[0] and "- reference.md" in results[0]
    assert "name:" not in results[0]  # front matter stripped
    assert results[1] == "REFERENCE-TEXT"
    assert "outside the skill" in results[2]
    assert results[3] == "GROUP-SKILL-BODY"
    assert "must be one of greeting, release-notes" in results[4]
    # a group skill that is a symlink (here to outside the group folder) is skipped with a warning
    warnings = [e["data"]["message"] for e in trace["events"] if e["kind"] == "error"]
    assert any("escape" in w and "symlink" in w for w in warnings), warnings


# --- plugins, through their entry point -----------------------------------------------


def _wheel(src: Path, dest: Path) -> Path:
    """A wheel of the test plugin (no build backend needed)."""
    name, version = "pynchy_testplug", "0.1.0"
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/{p.relative_to(src).as_posix()}": p.read_bytes()
        for p in sorted(src.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: pynchy-testplug\nVersion: {version}\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: pynchy-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{dist_info}/entry_points.txt"] = f"[pynchy]\ntestplug = {name}\n".encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory) -> Path:
    """A folder where the test plugin is pip-installed (put it on PYTHONPATH)."""
    base = tmp_path_factory.mktemp("plugin")
    wheel = _wheel(PLUGIN_SRC, base)
    target = base / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)],
        check=True,
    )  # fmt: skip
    return target


def pynchy(home: Path, plugin_path: Path, *args: str, runtime: str = "process"):
    """`pynchy` in a subprocess that sees the installed test plugin."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYNCHY_") and not k.startswith(("ANTHROPIC_", "OPENAI_"))
    }
    env.update(
        PYNCHY_HOME=str(home),
        PYNCHY_RUNTIME=runtime,
        PYNCHY_ALLOW_PROCESS_RUNTIME="true",
        PYNCHY_PLUGINS="testplug",  # only this third-party plugin, whatever else is installed
        PYTHONPATH=os.pathsep.join([str(plugin_path), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    )
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def plugin_config(tmp_path: Path, **table) -> tuple[str, Path]:
    log = tmp_path / "hooks.jsonl"
    lines = [f'log = "{log}"'] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    return "[plugin.testplug]\n" + "\n".join(lines) + "\n", log


def hook_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_plugin_mcp_server_skill_and_rewriting_hooks(cli, tmp_path, pynchy_home, plugin_path):
    config, log = plugin_config(tmp_path)
    config += (
        "[plugin.testplug.rewrite]\n"
        'bash = { command = "echo rewritten > r.txt" }\n'
        'mcp__time__convert_time = { source_timezone = "Etc/UTC", time = "12:00",'
        ' target_timezone = "Asia/Tokyo" }\n'
    )
    write_config(pynchy_home, config)
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("mcp__time__get_current_time", timezone="Etc/UTC"),
                    call(
                        "mcp__time__convert_time",
                        source_timezone="Etc/UTC",
                        time="12:00",
                        target_timezone="Europe/Paris",
                    ),
                    bash("echo original > r.txt"),
                    call("read_skill", name="plugin-skill"),
                ]
            },
            {"text": "done"},
        ],
    )
    result = pynchy(pynchy_home, plugin_path, "agent", "run", "--model", model, "go")
    assert result.returncode == 0, result.stdout + result.stderr
    trace = last_trace(cli)
    prompt = trace["run"]["system_prompt"]
    assert "mcp__time__get_current_time" in prompt
    assert "- plugin-skill: A skill that a plugin ships." in prompt
    results = tool_results(trace)
    check_utc_now(results[0]["content"])
    assert "Asia/Tokyo" in results[1]["content"] and "Europe/Paris" not in results[1]["content"]
    assert (pynchy_home / "groups" / "main" / "r.txt").read_text() == "rewritten\n"
    assert "PLUGIN-SKILL-BODY" in results[3]["content"]
    calls = hook_log(log)
    assert [c["hook"] for c in calls][0] == "pynchy_before_run"
    assert [c["hook"] for c in calls][-1] == "pynchy_after_run"
    assert calls[-1]["status"] == "succeeded"
    after = {c["tool"]: c for c in calls if c["hook"] == "pynchy_after_tool"}
    assert after["bash"]["arguments"] == {"command": "echo rewritten > r.txt"}
    assert after["mcp__time__get_current_time"]["is_error"] is False
    changed = [r for r in audit_rows(pynchy_home) if r["decision"] == "changed"]
    assert {r["action"] for r in changed} == {"tool:bash", "tool:mcp__time__convert_time"}


def test_hooks_refuse_tools_and_raising_hooks_are_skipped(cli, tmp_path, pynchy_home, plugin_path):
    config, log = plugin_config(
        tmp_path,
        refuse_tools=["bash", "list_tasks"],
        raise_in=["pynchy_after_tool", "pynchy_after_run", "pynchy_on_error"],
    )
    write_config(pynchy_home, config)
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    bash("echo nope > refused.txt"),
                    call("list_tasks"),
                    call("write_file", path="ok.txt", content="fine"),
                ]
            },
            {"text": "done"},
        ],
    )
    result = pynchy(pynchy_home, plugin_path, "agent", "run", "--model", model, "go")
    assert result.returncode == 0, result.stdout + result.stderr
    trace = last_trace(cli)
    assert trace["run"]["status"] == "succeeded"
    results = tool_results(trace)
    assert results[0]["is_error"] and "testplug does not allow bash" in results[0]["content"]
    assert results[1]["is_error"] and "testplug does not allow list_tasks" in results[1]["content"]
    assert not results[2]["is_error"]
    group = pynchy_home / "groups" / "main"
    assert not (group / "refused.txt").exists() and (group / "ok.txt").read_text() == "fine"
    reported = [e["data"]["message"] for e in trace["events"] if e["kind"] == "error"]
    assert any("pynchy_after_tool raised RuntimeError" in m for m in reported), reported
    rows = audit_rows(pynchy_home)
    assert {r["action"] for r in rows if r["decision"] == "failed"} >= {
        "hook:pynchy_after_tool",
        "hook:pynchy_after_run",
    }
    refused = [r["action"] for r in rows if r["decision"] == "refused"]
    assert "tool:bash" in refused and "tool:list_tasks" in refused
    assert "pynchy_after_run raised" in result.stderr  # reported, and the run went on


def test_before_run_refuses(cli, tmp_path, pynchy_home, plugin_path):
    config, log = plugin_config(tmp_path, refuse_run="closed for maintenance")
    write_config(pynchy_home, config)
    result = pynchy(pynchy_home, plugin_path, "agent", "run", "--model", "echo", "hi")
    assert result.returncode == 1
    assert "closed for maintenance" in result.stderr
    run = last_trace(cli)["run"]
    assert run["status"] == "failed" and "closed for maintenance" in run["error"]
    hooks = [c["hook"] for c in hook_log(log)]
    assert hooks == ["pynchy_before_run", "pynchy_on_error", "pynchy_after_run"]


def run_errors(trace: dict) -> list[str]:
    return [e["data"]["message"] for e in trace["events"] if e["kind"] == "error"]


def test_plugin_server_factory_follows_each_runs_settings(cli, tmp_path, pynchy_home, plugin_path):
    """register(name, factory): no server and no tools while the factory answers None, the
    server's tools once the settings make one, a warning naming the plugin when it raises."""
    config, _ = plugin_config(tmp_path)
    model = write_script(
        tmp_path / "s.json",
        [{"tool_calls": [call("mcp__clock__get_current_time", timezone="Etc/UTC")]}, {"text": "k"}],
    )

    def run(clock: str | None) -> tuple[dict, dict]:
        write_config(pynchy_home, config + (f'clock = "{clock}"\n' if clock else ""))
        args = ("agent", "run", "--new-session", "--model", model, "time?")
        result = pynchy(pynchy_home, plugin_path, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        trace = last_trace(cli)
        assert trace["run"]["status"] == "succeeded"
        assert "mcp__time__get_current_time" in trace["run"]["system_prompt"]
        [answer] = tool_results(trace)
        return trace, answer

    trace, answer = run(None)
    assert "mcp__clock__" not in trace["run"]["system_prompt"] and not run_errors(trace)
    assert answer["is_error"] and "not available in this run" in answer["content"]

    trace, answer = run("Asia/Tokyo")
    assert "mcp__clock__get_current_time" in trace["run"]["system_prompt"]
    assert not answer["is_error"], answer
    check_utc_now(answer["content"])

    trace, answer = run("broken")
    assert "mcp__clock__" not in trace["run"]["system_prompt"]
    assert answer["is_error"] and "not available in this run" in answer["content"]
    assert (
        "plugin testplug: MCP server clock left out: the clock is broken."
        " Unset clock in [plugin.testplug]"
    ) in run_errors(trace)

    info = pynchy(pynchy_home, plugin_path, "plugin", "info", "testplug", "--json")
    assert json.loads(info.stdout)["registered"]["mcp_servers"] == ["time", "clock"]


def clock_factory(zone: str | None, calls: list) -> ServerFactory:
    def make(settings):
        calls.append(settings)
        if zone == "raise":
            raise RuntimeError("no clock here")
        if zone == "renamed":
            return McpServer("other", command=["clock"])
        return zone and McpServer("clock", command=["clock", zone])

    return ServerFactory("clock", make, "clockplug")


def test_declared_servers_call_factories_with_the_settings() -> None:
    calls: list = []
    settings = Settings(plugin={"clockplug": {"zone": "UTC"}})
    servers, warnings = declared_servers(settings, [clock_factory("UTC", calls)])
    assert [(s.name, s.command) for s in servers] == [("clock", ["clock", "UTC"])]
    assert calls == [settings] and warnings == []
    assert declared_servers(settings, [clock_factory(None, calls)]) == ([], [])
    for zone, why in (("raise", "RuntimeError: no clock here"), ("renamed", "named 'other'")):
        servers, [warning] = declared_servers(settings, [clock_factory(zone, calls)])
        assert servers == [] and warning.startswith("plugin clockplug: MCP server clock left out")
        assert why in warning
    # [mcp.NAME] replaces (or turns off) a plugin's server: its factory is not even called
    calls.clear()
    off = Settings(mcp={"clock": {"command": ["x"], "enabled": False}})
    assert declared_servers(off, [clock_factory("raise", calls)]) == ([], []) and calls == []


@pytest.mark.podman
def test_mcp_and_hooks_in_a_podman_container(cli, tmp_path, pynchy_home, plugin_path):
    if not socket_answers(PODMAN_SOCKET):
        if REQUIRE_PODMAN:
            pytest.fail(f"podman is not serving on {PODMAN_SOCKET}")
        pytest.skip("podman is not serving (run scripts/setup-podman)")
    config, _log = plugin_config(tmp_path, refuse_tools=["bash"])
    notes_text, notes = notes_config(tmp_path)
    write_config(pynchy_home, config + notes_text)
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("mcp__time__get_current_time", timezone="Etc/UTC"),  # from the plugin
                    call("mcp__notes__record", text="from a container"),  # from config.toml
                    bash("echo nope > refused.txt"),
                    call("write_file", path="ok.txt", content="fine"),
                ]
            },
            {"text": "done"},
        ],
    )
    result = pynchy(
        pynchy_home, plugin_path, "agent", "run", "--model", model, "go", runtime="podman"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    trace = last_trace(cli)
    assert trace["run"]["runtime"] == "podman"
    results = tool_results(trace)
    check_utc_now(results[0]["content"])
    assert results[1]["content"] == "recorded 'from a container'"
    assert notes.read_text() == "from a container\n"
    assert results[2]["is_error"] and "testplug does not allow bash" in results[2]["content"]
    group = pynchy_home / "groups" / "main"
    assert not (group / "refused.txt").exists() and (group / "ok.txt").read_text() == "fine"
