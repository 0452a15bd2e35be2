"""Agent runs in real podman containers: the providers' SDKs through the host socket,
and the security promises (no secret inside, no network, nothing outside the mounts, a
hostile container's requests refused while the host keeps serving)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest
from fakes.anthropic_server import AnthropicServer
from fakes.openai_server import OpenAIServer
from helpers import bash, tool_results, write_script

from pynchy_cli.core.runtimes.detect import socket_answers

REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"
PODMAN_SOCKET = "/run/podman/podman.sock"

pytestmark = pytest.mark.podman

# Random per test session, so a piece of one cannot turn up in the image by chance.
ANTHROPIC_KEY = "sk-ant-api03-" + secrets.token_urlsafe(32)
OPENAI_KEY = "sk-proj-" + secrets.token_urlsafe(32)
CONFIG_KEY = "sk-ant-" + secrets.token_urlsafe(32)


@pytest.fixture(autouse=True)
def podman(monkeypatch):
    if not socket_answers(PODMAN_SOCKET):
        if REQUIRE_PODMAN:
            pytest.fail(f"podman is not serving on {PODMAN_SOCKET}")
        pytest.skip("podman is not serving (run scripts/setup-podman)")
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")


def trace_of(cli, run_index: int = 0) -> dict:
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    return json.loads(cli("agent", "trace", runs[run_index]["id"], "--json").stdout)


def test_echo_in_a_container_then_removed(cli):
    result = cli("agent", "run", "--model", "echo", "hello")
    assert result.exit_code == 0, result.output
    assert "echo: hello" in result.stdout
    run = trace_of(cli)["run"]
    assert run["runtime"] == "podman" and run["status"] == "succeeded"
    assert run["container"] == f"pynchy-main-{run['id']}"
    import docker

    client = docker.DockerClient(base_url=f"unix://{PODMAN_SOCKET}")
    assert not client.containers.list(all=True, filters={"name": run["container"]})


def test_anthropic_through_the_host_socket(cli, monkeypatch, pynchy_home):
    with AnthropicServer(key=ANTHROPIC_KEY) as server:
        server.reply_tool_use("bash", {"command": "echo made-in-container > f.txt; cat f.txt"})
        server.reply_text("all done")
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        result = cli("agent", "run", "--model", "anthropic:claude-sonnet-5-5", "make a file")
        assert result.exit_code == 0, result.output
        assert "all done" in result.stdout
        assert (pynchy_home / "groups/main/f.txt").read_text() == "made-in-container\n"
        first, second = server.requests
        assert server.presented_key(first) == ANTHROPIC_KEY
        assert first.body["model"] == "claude-sonnet-5-5"
        assert "bash" in [t["name"] for t in first.body["tools"]]
        result_blocks = [
            b
            for m in second.body["messages"]
            for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        assert "made-in-container" in json.dumps(result_blocks)
    run = trace_of(cli)["run"]
    assert run["input_tokens"] > 0 and run["model"] == "anthropic:claude-sonnet-5-5"


def test_openai_through_the_host_socket(cli, monkeypatch, pynchy_home):
    with OpenAIServer(key=OPENAI_KEY) as server:
        server.reply_tool_call("write_file", {"path": "o.txt", "content": "from openai"})
        server.reply_text("written")
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        result = cli("agent", "run", "--model", "openai:gpt-4.1-mini", "write it")
        assert result.exit_code == 0, result.output
        assert (pynchy_home / "groups/main/o.txt").read_text() == "from openai"
        second = server.requests[1].body["messages"]
        tool_messages = [m for m in second if m["role"] == "tool"]
        assert tool_messages and "o.txt" in tool_messages[0]["content"]


def test_no_key_inside_the_container(cli, monkeypatch, tmp_path, pynchy_home):
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    (pynchy_home / "config.toml").write_text(
        f'[accounts.work]\nprovider = "anthropic"\napi_key = "{CONFIG_KEY}"\n'
    )
    dump = (
        "mkdir -p dump; env > dump/env; cat /proc/1/environ > dump/environ1;"
        " for p in /proc/[0-9]*; do cat $p/environ $p/cmdline; done > dump/procs 2>/dev/null;"
        " tar -cf dump/fs.tar --exclude=./proc --exclude=./sys --exclude=./dev"
        " --exclude=./workspace -C / . 2>/dev/null; ls -l dump"
    )
    model = write_script(tmp_path / "s.json", [{"tool_calls": [bash(dump)]}, {"text": "dumped"}])
    result = cli("agent", "run", "--model", model, "dump everything")
    assert result.exit_code == 0, result.output
    folder = pynchy_home / "groups/main/dump"
    with tarfile.open(folder / "fs.tar") as tar:
        assert len(tar.getnames()) > 1000  # the whole filesystem was really there
    secrets = [ANTHROPIC_KEY, OPENAI_KEY, CONFIG_KEY]
    for path in folder.iterdir():
        data = path.read_bytes()
        for secret in secrets:
            for piece in (secret, secret[-16:]):
                assert piece.encode() not in data, f"{piece} found in {path.name}"
    transcript = json.dumps(trace_of(cli))
    assert not any(s in transcript for s in secrets)


def test_no_network_without_a_grant(cli, tmp_path, pynchy_home):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            listener.accept()

    threading.Thread(target=accept, daemon=True).start()
    probe = (
        "python3 -c \"import socket,os; print(sorted(os.listdir('/sys/class/net')));"
        f" s=socket.socket(); s.settimeout(2); print(s.connect_ex(('127.0.0.1', {port})))\""
    )
    model = write_script(tmp_path / "s.json", [{"tool_calls": [bash(probe)]}, {"text": "ok"}])
    assert cli("agent", "run", "--model", model, "probe").exit_code == 0
    out = tool_results(trace_of(cli))[0]["content"]
    assert "['lo']" in out
    assert "\n0\n" not in out  # connect_ex returned an error, not success
    listener.close()
    # A group granted network gets an interface besides lo.
    assert cli("groups", "add", "online", "--admin", "--network").exit_code == 0
    probe2 = "python3 -c \"import os; print(sorted(os.listdir('/sys/class/net')))\""
    model2 = write_script(tmp_path / "s2.json", [{"tool_calls": [bash(probe2)]}, {"text": "ok"}])
    assert cli("agent", "run", "-g", "online", "--model", model2, "probe").exit_code == 0
    assert tool_results(trace_of(cli))[0]["content"].count("'") > 2  # more than ['lo']


def test_files_outside_the_mounts_are_unreadable(cli, tmp_path):
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("host only")
    home_marker = Path.home() / ".pynchy-test-marker"
    command = f"cat {outside}; cat {home_marker}; ls /workspace /memory/global"
    model = write_script(tmp_path / "s.json", [{"tool_calls": [bash(command)]}, {"text": "ok"}])
    assert cli("agent", "run", "--model", model, "read").exit_code == 0
    out = tool_results(trace_of(cli))[0]["content"]
    assert "host only" not in out
    assert "No such file" in out and "CLAUDE.md" in out


HOSTILE = r"""
import json, os, socket
path, token = os.environ["PYNCHY_SOCKET"], os.environ["PYNCHY_RUN_TOKEN"]
group = os.environ["PYNCHY_GROUP"]
def ask(line):
    s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(path)
    try:
        s.sendall(line)
    except BrokenPipeError:  # the host stopped reading; its answer is already on the way
        pass
    f = s.makefile("rb"); r = f.readline(); s.close()
    return json.loads(r) if r else None
req = lambda tok, grp: (json.dumps({"v": 1, "token": tok, "group": grp, "op": "input",
                                    "body": {}}) + "\n").encode()
out = {
  "forged": ask(req("forged-token", group)),
  "other_group": ask(req(token, "someone-else")),
  "huge": ask(b'{"v":1,"pad":"' + b"x" * 10_000_000 + b'"}\n'),
  "garbage": ask(b"not json\n"),
  "event_spoof": ask((json.dumps({"v": 1, "token": token, "group": group, "op": "event",
                                 "body": {"kind": "usage", "data": {}}}) + "\n").encode()),
  "still_serving": ask(req(token, group))["ok"],
}
print(json.dumps({k: (v if k == "still_serving" else v.get("error")) for k, v in out.items()}))
"""


def test_hostile_requests_refused_and_host_keeps_serving(cli, tmp_path, pynchy_home):
    (pynchy_home / "groups").mkdir(exist_ok=True)
    cli("groups", "add", "main", "--admin")
    (pynchy_home / "groups/main/hostile.py").write_text(HOSTILE)
    model = write_script(
        tmp_path / "s.json",
        [
            {"tool_calls": [bash("python3 hostile.py")]},
            {"tool_calls": [{"name": "list_tasks", "input": {}}]},
            {"text": "survived"},
        ],
    )
    result = cli("agent", "run", "--model", model, "attack")
    assert result.exit_code == 0, result.output
    results = tool_results(trace_of(cli))
    verdict = json.loads(results[0]["content"].split("stdout:\n", 1)[1].splitlines()[0])
    assert verdict["forged"] == "wrong token"
    assert verdict["other_group"] == "wrong group"
    assert "larger than" in verdict["huge"]
    assert "malformed" in verdict["garbage"]
    assert "may not send usage" in verdict["event_spoof"]
    assert verdict["still_serving"] is True
    assert results[1]["content"] == "no tasks"  # the run's own requests still work
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        refused = [
            json.loads(r[0])["reason"]
            for r in db.execute(
                "select detail from audit where action = 'socket' and decision = 'refused'"
            )
        ]
    assert len(refused) == 5
    assert "survived" in result.stdout


def test_orphans_of_a_crashed_run_are_cleaned_up(cli, pynchy_home):
    import docker

    assert cli("agent", "run", "--model", "echo", "first").exit_code == 0
    # A container left behind by a host process that died, labelled as one of our runs.
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        db.execute(
            "insert into runs (id, group_id, status, started_at, runtime) values"
            " ('deadbeef', 1, 'running', '2026-01-01', 'podman')"
        )
    client = docker.DockerClient(base_url=f"unix://{PODMAN_SOCKET}")
    name = f"pynchy-main-{secrets.token_hex(4)}"
    client.containers.run(
        "localhost/pynchy-agent:latest",
        ["sleep", "300"],
        detach=True,
        name=name,
        labels={"pynchy.run": "deadbeef"},
        network_mode="none",
    )
    assert cli("agent", "run", "--model", "echo", "second").exit_code == 0
    assert not client.containers.list(all=True, filters={"name": name})
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        status = db.execute("select status from runs where id = 'deadbeef'").fetchone()[0]
    assert status == "interrupted"  # cut before it answered


def test_agent_stop_ends_a_running_agent(cli, tmp_path, pynchy_home):
    import subprocess
    import sys
    import time

    model = write_script(
        tmp_path / "s.json", [{"tool_calls": [bash("sleep 300")]}, {"text": "never"}]
    )
    env = {**os.environ, "PYNCHY_HOME": str(pynchy_home), "PYNCHY_RUNTIME": "podman"}
    runner = subprocess.Popen(
        [sys.executable, "-m", "pynchy_cli", "agent", "run", "--model", model, "sleep"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        running = []
        for _ in range(400):  # until the run shows up as running (bounded)
            running = json.loads(cli("agent", "ps", "--json").stdout or "[]")
            if running:
                break
            time.sleep(0.05)
        assert running, runner.stderr.read() if runner.poll() is not None else "no run"
        run_id = running[0]["id"]
        for _ in range(400):  # until the agent is inside its `sleep 300` (bounded)
            if '"tool_use"' in cli("agent", "logs", run_id, "--json").stdout:
                break
            time.sleep(0.05)
        stopped = cli("agent", "stop", run_id)
        assert stopped.exit_code == 0, stopped.output
        code = runner.wait(timeout=60)
        assert code == 130, runner.stderr.read()
    finally:
        runner.kill()
    run = trace_of(cli)["run"]
    assert run["status"] == "stopped"
    assert "sleep" in run["prompt"]
    assert cli("agent", "stop", run["id"]).exit_code == 2  # already stopped: says so


def test_a_stop_while_the_container_starts_is_a_stop(cli, pynchy_home):
    """`agent stop` can land between the run's record and its container: still a stop."""
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYNCHY_HOME": str(pynchy_home), "PYNCHY_RUNTIME": "podman"}
    runner = subprocess.Popen(
        [sys.executable, "-m", "pynchy_cli", "agent", "run", "--model", "echo", "hi"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(400):
            running = json.loads(cli("agent", "ps", "--json").stdout or "[]")
            if running or runner.poll() is not None:
                break
            time.sleep(0.01)
        if running:  # caught it before it finished
            cli("agent", "stop", running[0]["id"])
            code = runner.wait(timeout=60)
            assert code in (0, 130), runner.stderr.read()
    finally:
        runner.kill()
    status = trace_of(cli)["run"]["status"]
    assert status in ("stopped", "succeeded")
    assert "Traceback" not in (runner.stderr.read() if runner.stderr else "")


SLOW_MCP_SERVER = """\
import os, runpy, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(3)  # still starting when the run is stopped
sys.argv = ["mcp_server_time"]
runpy.run_module("mcp_server_time", run_name="__main__")
"""


def test_a_stop_between_create_and_start_leaves_nothing_running(pynchy_home, tmp_path):
    """`agent stop` between the container's create and start, while the run's MCP server is
    still starting: the run ends stopped, its container and that server gone when it ends.
    A server left half-started was cancelled by asyncio.run's teardown, which hung
    `pynchy agent run` for good when the cancel met its process being spawned."""
    import asyncio
    import sys
    import time

    import docker

    from pynchy_cli.core.agent import control, store
    from pynchy_cli.core.agent.run import AgentRun, RunRequest
    from pynchy_cli.core.context import Context
    from pynchy_cli.core.groups import add_group
    from pynchy_cli.core.runtimes.detect import find_engine
    from pynchy_cli.core.runtimes.podman import PodmanRuntime

    server, pidfile = tmp_path / "slow_server.py", tmp_path / "server.pid"
    server.write_text(SLOW_MCP_SERVER)
    command = json.dumps([sys.executable, str(server), str(pidfile)])
    (pynchy_home / "config.toml").write_text(
        f'[mcp.slow]\ncommand = {command}\nrisk = "read"\ngroups = ["main"]\n'
    )
    ctx = Context()
    group = add_group(ctx.db, ctx.paths, "main", admin=True)

    class StoppedBeforeStart(PodmanRuntime):
        def _create(self, spec):
            container = super()._create(spec)
            for _ in range(400):  # until the MCP server's process runs (bounded)
                if pidfile.exists() and pidfile.read_text():
                    break
                time.sleep(0.025)
            run_id = spec.name.rsplit("-", 1)[1]
            control.stop_run(Context(), run_id)  # as `pynchy agent stop` in another process
            return container

    runtime = StoppedBeforeStart(find_engine(None, "podman"))

    async def one_run():
        run = AgentRun(ctx, RunRequest(group=group, prompt="hi", model="echo"), runtime=runtime)
        outcome = await run.execute()
        left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("mcp-")]
        try:
            os.kill(int(pidfile.read_text()), 0)
            server_alive = True
        except ProcessLookupError:
            server_alive = False
        return outcome, left, server_alive

    started = time.monotonic()
    outcome, left, server_alive = asyncio.run(asyncio.wait_for(one_run(), 60))
    assert time.monotonic() - started < 30
    assert outcome.status == "stopped" and outcome.error == "stopped with pynchy agent stop"
    assert not left and not server_alive  # nothing of the run still starting
    assert store.get_run(ctx.db, outcome.run_id)["status"] == "stopped"
    client = docker.DockerClient(base_url=f"unix://{PODMAN_SOCKET}")
    assert not client.containers.list(all=True, filters={"name": f"pynchy-main-{outcome.run_id}"})
