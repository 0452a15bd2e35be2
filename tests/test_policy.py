"""The policy gate in real agent runs: tiers from MCP annotations (a server written with the
SDK, tests/fakes/mcp_policy_server.py, and the reference mcp-server-time), per-tool
overrides, security profiles (rate limits counted across runs, the schedule floor, the
locked profile, network), the lethal trifecta, and forged calls from inside a container."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from helpers import bash, call, tool_results, write_script

from pynchy_cli.core.runtimes.detect import socket_answers

POLICY_SERVER = Path(__file__).parent / "fakes" / "mcp_policy_server.py"
PODMAN_SOCKET = "/run/podman/podman.sock"
REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"


@pytest.fixture(autouse=True)
def only_our_plugins(monkeypatch):
    monkeypatch.setenv("PYNCHY_PLUGINS", "")  # no installed third-party plugin joins in


@pytest.fixture
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def policy_server(tmp_path: Path, extra: str = "") -> tuple[str, Path]:
    calls = tmp_path / "calls.txt"
    table = (
        f'[mcp.pol]\ncommand = ["{sys.executable}", "{POLICY_SERVER}"]\n'
        f'env = {{ CALLS_FILE = "{calls}" }}\n{extra}\n'
    )
    return table, calls


def called(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def run_agent(
    cli, tmp_path: Path, calls: list[dict], *args: str, name: str = "s", resumed: int = 0
) -> dict:
    """One `pynchy agent run` whose scripted model makes these calls, then answers. It
    starts a new session, unless it resumes one holding `resumed` earlier runs of this
    helper (the script plays the turn after the session's assistant turns)."""
    turns = [{"text": "earlier"}] * 2 * resumed + [{"tool_calls": calls}, {"text": "done"}]
    model = write_script(tmp_path / f"{name}.json", turns, replay="session")
    fresh = [] if resumed else ["--new-session"]
    result = cli("agent", "run", "--model", model, *fresh, *args, "go")
    assert result.exit_code == 0, result.output
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    return json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)


def audit(cli, *args: str) -> list[dict]:
    result = cli("audit", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def decisions(cli, *args: str) -> list[tuple[str, str, str | None]]:
    return [
        (r["action"].removeprefix("tool:"), r["decision"], r["tier"])
        for r in audit(cli, *args)
        if r["action"].startswith("tool:")
    ]


# --- tiers from MCP annotations -------------------------------------------------------


def test_tiers_come_from_annotations_and_config_overrides(
    cli, tmp_path, pynchy_home, process_runtime
):
    server, calls = policy_server(tmp_path)
    time_server = f'[mcp.time]\ncommand = ["{sys.executable}", "-m", "mcp_server_time"]\n'
    (pynchy_home / "config.toml").write_text(server + time_server)
    tools = [
        call("mcp__pol__peek"),
        call("mcp__pol__wipe"),
        call("mcp__pol__note", text="kept"),
        call("mcp__pol__mystery"),
        call("mcp__time__get_current_time", timezone="Etc/UTC"),
    ]
    results = tool_results(run_agent(cli, tmp_path, tools))
    assert [r["is_error"] for r in results] == [False, True, False, True, False]
    # No terminal here: what needs a person is denied, and the agent is told why.
    assert "needs approval (mcp__pol__wipe is a destructive tool)" in results[1]["content"]
    assert "no one can approve it in this run (no terminal)" in results[1]["content"]
    assert "mcp__pol__mystery is a destructive tool" in results[3]["content"]  # unannotated
    assert called(calls) == ["peek", "note kept"]
    assert decisions(cli) == [
        ("mcp__pol__peek", "allowed", "read"),
        ("mcp__pol__wipe", "denied", "destructive"),
        ("mcp__pol__note", "allowed", "write"),
        ("mcp__pol__mystery", "denied", "destructive"),
        ("mcp__time__get_current_time", "allowed", "read"),
    ]

    # Per-tool tiers in [mcp.pol] win over annotations; `risk` covers tools without any,
    # and a server-wide risk no longer lowers an annotated tool's tier.
    server, _ = policy_server(tmp_path, 'risk = "read"\ntiers = { wipe = "write" }')
    (pynchy_home / "config.toml").write_text(server)
    tools = [call("mcp__pol__wipe"), call("mcp__pol__mystery"), call("mcp__pol__post", text="x")]
    results = tool_results(run_agent(cli, tmp_path, tools, name="s2"))
    assert [r["is_error"] for r in results] == [False, False, True]
    assert called(calls)[2:] == ["wipe", "mystery"]
    assert decisions(cli)[-3:] == [
        ("mcp__pol__wipe", "allowed", "write"),
        ("mcp__pol__mystery", "allowed", "read"),
        ("mcp__pol__post", "denied", "external"),
    ]


def test_profile_tier_override_and_allowed_servers(cli, tmp_path, pynchy_home, process_runtime):
    server, calls = policy_server(tmp_path)
    (pynchy_home / "config.toml").write_text(
        server + "[profiles.careful]\n"
        'mcp_servers = ["pol"]\n'
        'tiers = { "mcp__pol__peek" = "destructive", "list_*" = "external" }\n'
        '[mcp.time]\ncommand = ["/nonexistent/never-started"]\n'
    )
    assert cli("groups", "add", "main", "--admin", "--profile", "careful").exit_code == 0
    trace = run_agent(cli, tmp_path, [call("mcp__pol__peek"), call("list_tasks")])
    results = tool_results(trace)
    assert all(r["is_error"] and "needs approval" in r["content"] for r in results)
    assert called(calls) == []
    # the time server is not allowed by the profile: never started, no warning about it
    warnings = [e["data"]["message"] for e in trace["events"] if e["kind"] == "error"]
    assert not any("time" in w for w in warnings), warnings
    assert "mcp__time" not in trace["run"]["system_prompt"]
    assert decisions(cli) == [
        ("mcp__pol__peek", "denied", "destructive"),
        ("list_tasks", "denied", "external"),
    ]


# --- rate limits and the schedule floor -------------------------------------------------


def test_rate_limit_holds_across_runs(cli, tmp_path, pynchy_home, process_runtime):
    (pynchy_home / "config.toml").write_text(
        '[profiles.default]\nrate_limits = { list_tasks = "3/hour" }\n'
    )
    first = tool_results(run_agent(cli, tmp_path, [call("list_tasks"), call("list_tasks")]))
    assert [r["is_error"] for r in first] == [False, False]
    second = tool_results(
        run_agent(cli, tmp_path, [call("list_tasks"), call("list_tasks")], name="s2")
    )
    assert [r["is_error"] for r in second] == [False, True]
    assert "rate limit: list_tasks at most 3/hour" in second[1]["content"]
    rows = audit(cli, "--tool", "list_tasks")
    assert [r["decision"] for r in rows] == ["allowed"] * 3 + ["rate_limited"]
    assert rows[-1]["reason"].startswith("rate limit") and rows[-1]["outcome"] is None
    assert [r["outcome"] for r in rows[:3]] == ["ok"] * 3


def test_schedule_floor_and_task_cap(cli, tmp_path, pynchy_home, process_runtime):
    (pynchy_home / "config.toml").write_text("[profiles.default]\nmax_active_tasks = 1\n")
    tools = [
        call("schedule_task", prompt="spam", kind="interval", spec="10s"),
        call("schedule_task", prompt="spam", kind="cron", spec="* * * * *"),
        call("schedule_task", prompt="spam", kind="cron", spec="* * * * * */5"),
        call("schedule_task", prompt="hourly", kind="interval", spec="1h"),
        call("schedule_task", prompt="daily", kind="cron", spec="0 9 * * *"),
    ]
    results = tool_results(run_agent(cli, tmp_path, tools))
    assert [r["is_error"] for r in results] == [True, True, True, False, True]
    floor = "agents of this group may schedule at most every 5m"
    assert f"this task would run every 10s; {floor}" in results[0]["content"]
    assert f"this task would run every 1m; {floor}" in results[1]["content"]
    assert "every 5s" in results[2]["content"]
    assert results[3]["content"].startswith("scheduled task")
    assert "already has 1 active tasks (at most 1)" in results[4]["content"]
    tasks = json.loads(cli("tasks", "list", "--json").stdout)
    assert [t["spec"] for t in tasks] == ["1h"]
    assert [d for _, d, _ in decisions(cli)] == ["refused"] * 3 + ["allowed", "refused"]


# --- the lethal trifecta ---------------------------------------------------------------


def test_untrusted_input_then_public_sink_needs_a_person(
    cli, tmp_path, pynchy_home, process_runtime
):
    server, calls = policy_server(tmp_path)
    (pynchy_home / "config.toml").write_text(server)
    # trusted: external tools run without asking, so only the trifecta asks here
    assert cli("groups", "add", "main", "--admin", "--profile", "trusted").exit_code == 0
    tainted = [call("mcp__pol__fetch", url="https://example.org"), call("mcp__pol__post", text="a")]
    results = tool_results(run_agent(cli, tmp_path, tainted))
    assert not results[0]["is_error"] and results[1]["is_error"]
    assert (
        "needs approval (this run read untrusted content from mcp__pol__fetch; it now wants"
        " to write to a public sink via mcp__pol__post)"
    ) in results[1]["content"]
    assert called(calls) == ["fetch https://example.org"]
    # the resumed session still holds what was read: posting still needs a person
    posting = [call("mcp__pol__post", text="b")]
    again = tool_results(run_agent(cli, tmp_path, posting, name="s2", resumed=1))
    assert again[0]["is_error"] and "untrusted content from mcp__pol__fetch" in again[0]["content"]
    # a fresh session has read nothing: the same call runs (external, allowed in trusted)
    fresh = [call("mcp__pol__post", text="c")]
    fresh_results = tool_results(run_agent(cli, tmp_path, fresh, name="s3"))
    assert not fresh_results[0]["is_error"], fresh_results
    assert called(calls) == ["fetch https://example.org", "post c"]
    rows = audit(cli, "--tool", "mcp__pol__post")
    assert [r["decision"] for r in rows] == ["denied", "denied", "allowed"]
    assert "public sink" in rows[0]["detail"]["needs"]


# --- profiles on groups ----------------------------------------------------------------


def test_groups_profile_is_checked(cli, pynchy_home):
    (pynchy_home / "config.toml").write_text('[profiles.jail]\nextends = "locked"\n')
    bad = cli("groups", "add", "fam", "--profile", "nope")
    assert bad.exit_code == 2 and "no security profile 'nope'" in bad.output
    assert "default, jail, locked, trusted" in bad.output
    offline = cli("groups", "add", "fam", "--network", "--profile", "locked")
    assert offline.exit_code == 2 and "does not allow --network" in offline.output
    assert cli("groups", "add", "fam", "--network").exit_code == 0
    refused = cli("groups", "set", "fam", "--profile", "jail")
    assert refused.exit_code == 2 and "does not allow --network" in refused.output
    changed = cli("groups", "set", "fam", "--profile", "jail", "--no-network", "--trigger", "@x")
    assert changed.exit_code == 0, changed.output
    shown = json.loads(cli("groups", "show", "fam", "--json").stdout)
    assert (shown["profile"], shown["network"], shown["trigger"]) == ("jail", False, "@x")
    assert cli("groups", "set", "nobody", "--admin").exit_code == 4


def test_locked_profile_offers_read_tools_only(cli, tmp_path, pynchy_home, process_runtime):
    assert cli("groups", "add", "main", "--admin", "--profile", "locked").exit_code == 0
    tools = [
        bash("echo hi > pwned.txt"),
        call("write_file", path="pwned.txt", content="x"),
        call("send_message", text="hello"),
        call("read_file", path="CLAUDE.md"),
        call("list_tasks"),
    ]
    trace = run_agent(cli, tmp_path, tools)
    [line] = [x for x in trace["run"]["system_prompt"].splitlines() if x.startswith("Tools: ")]
    assert line == "Tools: read_file, list_files, grep, list_tasks."
    results = tool_results(trace)
    assert all("not available in this run" in r["content"] for r in results[:3])
    assert not results[3]["is_error"] and not results[4]["is_error"]
    assert not (pynchy_home / "groups" / "main" / "pwned.txt").exists()
    rows = decisions(cli)
    for name in ("bash", "write_file", "send_message"):
        assert (name, "refused", "write") in rows
    # locked's rate limit covers every tool, so the container asks about local ones too
    assert ("read_file", "allowed", "read") in rows and ("list_tasks", "allowed", "read") in rows
    reasons = [r["reason"] for r in audit(cli, "--decision", "refused")]
    assert "the security profile locked does not allow write tools like bash" in reasons


# --- in a podman container: forged calls, the gate, and the network ------------------------

FORGER = r"""
import json, os, socket
path, token = os.environ["PYNCHY_SOCKET"], os.environ["PYNCHY_RUN_TOKEN"]
group = os.environ["PYNCHY_GROUP"]
def ask(op, body):
    s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(path)
    s.sendall((json.dumps({"v": 1, "token": token, "group": group, "op": op, "body": body})
               + "\n").encode())
    r = json.loads(s.makefile("rb").readline()); s.close()
    return r.get("body") or r
print(json.dumps({
    "send": ask("tool", {"name": "send_message", "input": {"text": "forged"}}),
    "write": ask("tool_check", {"id": "t1", "name": "write_file",
                                "input": {"path": "x", "content": "y"}}),
    "wipe": ask("tool", {"name": "mcp__pol__wipe", "input": {}}),
}))
"""


@pytest.mark.podman
def test_forged_calls_from_a_container_are_refused(cli, tmp_path, pynchy_home, monkeypatch):
    if not socket_answers(PODMAN_SOCKET):
        if REQUIRE_PODMAN:
            pytest.fail(f"podman is not serving on {PODMAN_SOCKET}")
        pytest.skip("podman is not serving (run scripts/setup-podman)")
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")
    server, calls = policy_server(tmp_path)
    jail = '[profiles.jail]\ntools = ["bash", "read_file", "mcp__pol__*"]\n'
    (pynchy_home / "config.toml").write_text(server + jail)
    assert cli("groups", "add", "main", "--admin", "--network", "--profile", "jail").exit_code == 0
    # later the profile loses the network: the group's --network no longer gives one
    (pynchy_home / "config.toml").write_text(server + jail + "network = false\n")
    (pynchy_home / "groups" / "main" / "forge.py").write_text(FORGER)
    probe = "python3 -c \"import os; print(sorted(os.listdir('/sys/class/net')))\""
    trace = run_agent(
        cli, tmp_path, [call("mcp__pol__peek"), bash("python3 forge.py"), bash(probe)]
    )
    assert trace["run"]["runtime"] == "podman"
    results = tool_results(trace)
    assert results[0]["content"] == "peek done"
    shell = [r["content"] for r in results if r["name"] == "bash"]
    forged = json.loads(shell[0].split("stdout:\n", 1)[1].splitlines()[0])
    assert forged["send"] == {
        "content": "the security profile jail does not allow send_message",
        "is_error": True,
    }
    assert forged["write"] == {
        "allow": False,
        "reason": "the security profile jail does not allow write_file",
    }
    assert forged["wipe"]["is_error"]
    assert "no one can approve it in this run (no terminal)" in forged["wipe"]["content"]
    assert "['lo']" in shell[1]
    warnings = [e["data"]["message"] for e in trace["events"] if e["kind"] == "error"]
    assert "no network: the security profile jail does not allow it" in warnings
    assert called(calls) == ["peek"]
    rows = decisions(cli)
    assert ("send_message", "refused", "write") in rows
    assert ("write_file", "refused", "write") in rows
    assert ("mcp__pol__wipe", "denied", "destructive") in rows
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        sent = db.execute("select count(*) from messages where content = 'forged'").fetchone()
    assert sent == (0,)
