"""Delegate and handoff end to end with the process runtime and scripted models: a delegate's
answer comes back as the parent's tool result, a handoff continues the conversation under
another agent profile (in `pynchy agent run` and in serve), limits refuse with audit rows,
and stopping a parent stops its delegate."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import bash, tool_results, write_script
from servehelp import Serve
from test_policy import call, called, policy_server

from pynchy_cli.core.plugins.manager import reset_plugins


@pytest.fixture(autouse=True)
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")
    monkeypatch.setenv("PYNCHY_PLUGINS", "")  # no installed third-party plugin joins in


def agents_config(home: Path, **agents: dict) -> None:
    """[agents.NAME] tables in config.toml."""
    tables = []
    for name, fields in agents.items():
        lines = [f"[agents.{name}]"] + [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
        tables.append("\n".join(lines))
    (home / "config.toml").write_text("\n\n".join(tables) + "\n")


def runs(cli) -> list[dict]:
    return json.loads(cli("agent", "ps", "--all", "--json").stdout)


def trace(cli, run_id: str) -> dict:
    return json.loads(cli("agent", "trace", run_id, "--json").stdout)


def refusals(cli, tool: str) -> list[dict]:
    out = cli("audit", "--tool", tool, "--decision", "refused", "--json")
    return json.loads(out.stdout)


def test_delegate_answers_the_parent(cli, tmp_path, pynchy_home):
    helper = write_script(tmp_path / "helper.json", [{"text": "42, said the helper"}])
    agents_config(
        pynchy_home,
        helper={
            "description": "does arithmetic",
            "model": helper,
            "system_prompt": "You are the arithmetic helper.",
        },
    )
    task = call("delegate", task="what is 6*7?", context="the person likes numbers", agent="helper")
    parent = write_script(
        tmp_path / "parent.json", [{"tool_calls": [task]}, {"text": "the helper says 42"}]
    )
    result = cli("agent", "run", "--model", parent, "ask the helper")
    assert result.exit_code == 0, result.output
    assert "the helper says 42" in result.stdout

    child, root = runs(cli)  # newest first
    assert (root["parent_run_id"], root["link"]) == (None, None)
    assert (child["parent_run_id"], child["link"], child["agent"]) == (
        root["id"],
        "delegate",
        "helper",
    )
    parent_trace = trace(cli, root["id"])
    [answer] = tool_results(parent_trace)
    assert answer == {"name": "delegate", "content": "42, said the helper", "is_error": False}
    [linked] = parent_trace["children"]
    assert (linked["id"], linked["result"], linked["status"]) == (
        child["id"],
        "42, said the helper",
        "succeeded",
    )
    # The parent's next model turn had the answer as the tool result: it is in the session.
    with sqlite3.connect(
        pynchy_home / "pynchy.db"
    ) as db:  # one session: the delegate's is not kept
        history = json.loads(db.execute("select history from sessions").fetchone()[0])
    results = [b for m in history for b in m["content"] if b["type"] == "tool_result"]
    assert [r["content"] for r in results] == ["42, said the helper"]
    assert history[-1]["content"] == [{"type": "text", "text": "the helper says 42"}]

    child_trace = trace(cli, child["id"])
    assert child_trace["parent"]["id"] == root["id"]
    assert child_trace["parent"]["link"] == "delegate"
    assert child_trace["run"]["model"] == helper
    assert "You are the arithmetic helper." in child_trace["run"]["system_prompt"]
    assert "sub-agent" in child_trace["run"]["system_prompt"]
    assert child_trace["run"]["prompt"].startswith("what is 6*7?")
    assert "the person likes numbers" in child_trace["run"]["prompt"]
    # The delegate's session is not the group's: the parent's is.
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        [(session,)] = db.execute("select session_id from groups where name = 'main'")
    assert session == parent_trace["run"]["session_id"]

    human = cli("agent", "trace", root["id"]).stdout
    assert "linked runs" in human
    assert f"delegate → run {child['id']} · helper · succeeded" in human
    assert "answer: 42, said the helper" in human
    listing = cli("agent", "ps", "--all").stdout
    assert f"└ {child['id']}" in listing


def test_depth_limit_refuses_a_delegate_too_deep(cli, tmp_path):
    # A plain sub-agent runs the same script: each level delegates again, until the third.
    model = write_script(
        tmp_path / "s.json",
        [{"tool_calls": [call("delegate", task="go one deeper")]}, {"text": "answered"}],
    )
    result = cli("agent", "run", "--model", model, "go deep")
    assert result.exit_code == 0, result.output
    listed = runs(cli)
    assert len(listed) == 3
    by_id = {r["id"]: r for r in listed}
    deepest = next(r for r in listed if r["id"] not in {x["parent_run_id"] for x in listed})
    assert by_id[deepest["parent_run_id"]]["link"] == "delegate"
    [refused] = tool_results(trace(cli, deepest["id"]))
    assert refused["is_error"]
    assert "delegates may go 2 deep (limits.max_delegate_depth)" in refused["content"]
    [row] = refusals(cli, "delegate")
    assert row["run_id"] == deepest["id"] and "max_delegate_depth" in row["reason"]
    # Each level got the answer of the one below.
    for run in listed:
        if run["id"] != deepest["id"]:
            assert tool_results(trace(cli, run["id"]))[0]["content"] == "answered"


def test_count_limit_refuses_more_delegates(cli, tmp_path, pynchy_home, monkeypatch):
    monkeypatch.setenv("PYNCHY_LIMITS__MAX_DELEGATES", "1")
    leaf = write_script(tmp_path / "leaf.json", [{"text": "leaf answer"}])
    agents_config(pynchy_home, leaf={"description": "answers", "model": leaf})
    twice = [call("delegate", task="a", agent="leaf"), call("delegate", task="b", agent="leaf")]
    model = write_script(tmp_path / "s.json", [{"tool_calls": twice}, {"text": "done"}])
    assert cli("agent", "run", "--model", model, "twice").exit_code == 0
    assert len(runs(cli)) == 2  # the parent and one delegate
    first, second = tool_results(trace(cli, runs(cli)[-1]["id"]))
    assert first["content"] == "leaf answer" and not first["is_error"]
    assert second["is_error"] and "at most 1 per run (limits.max_delegates)" in second["content"]
    assert len(refusals(cli, "delegate")) == 1


def test_a_plugin_provides_an_agent_profile(cli, tmp_path, monkeypatch):
    scout = write_script(tmp_path / "scout.json", [{"text": "found it, said the scout"}])
    site = tmp_path / "site"
    (site / "pynchy_scouts-1.0.dist-info").mkdir(parents=True)
    (site / "pynchy_scouts-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pynchy-scouts\nVersion: 1.0\n"
    )
    (site / "pynchy_scouts-1.0.dist-info" / "entry_points.txt").write_text(
        "[pynchy]\nscouts = scouts_plugin\n"
    )
    (site / "scouts_plugin.py").write_text(
        "from pynchy_cli import AgentProfile, hookimpl\n\n\n@hookimpl\n"
        "def pynchy_agents(register):\n"
        f"    register('scout', AgentProfile(description='finds things', model={scout!r},"
        " tools=['delegate', 'read_file']))\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYNCHY_PLUGINS", "scouts")
    reset_plugins()
    try:
        listed = json.loads(cli("agent", "profiles", "--json").stdout)
        assert [(p["name"], p["description"]) for p in listed] == [("scout", "finds things")]
        task = call("delegate", task="find it", agent="scout")
        parent = write_script(tmp_path / "p.json", [{"tool_calls": [task]}, {"text": "ok"}])
        assert cli("agent", "run", "--model", parent, "go").exit_code == 0
        child = runs(cli)[0]
        assert child["agent"] == "scout"
        assert "\nTools: read_file, delegate.\n" in trace(cli, child["id"])["run"]["system_prompt"]
    finally:
        reset_plugins()


def test_handoff_continues_under_the_other_profile(cli, tmp_path, pynchy_home):
    billing = write_script(
        tmp_path / "billing.json",
        [{"text": "billing: invoice 7 is paid"}, {"text": "billing again"}],
        replay="session",
    )
    agents_config(
        pynchy_home,
        billing={
            "description": "invoices and payments",
            "model": billing,
            "system_prompt": "You handle billing.",
        },
    )
    assert cli("groups", "add", "main", "--admin").exit_code == 0
    (pynchy_home / "groups" / "main" / "notes").mkdir()
    (pynchy_home / "groups" / "main" / "notes" / "inv.txt").write_text("invoice 7: 30 EUR\n")
    handoff = call(
        "handoff",
        agent="billing",
        summary="the person asks whether invoice 7 is paid",
        messages=[-1],
        files=["/workspace/notes/inv.txt"],
    )
    front = write_script(
        tmp_path / "front.json",
        [{"text": "passing you to billing", "tool_calls": [handoff]}, {"text": "FRONT ANSWER"}],
    )
    result = cli("agent", "run", "--model", front, "is invoice 7 paid?")
    assert result.exit_code == 0, result.output
    assert "billing: invoice 7 is paid" in result.stdout
    assert "FRONT ANSWER" not in result.stdout

    successor, first = runs(cli)
    assert (successor["link"], successor["parent_run_id"]) == ("handoff", first["id"])
    assert successor["agent"] == "billing"
    told = trace(cli, successor["id"])["run"]
    assert told["model"] == billing and "You handle billing." in told["system_prompt"]
    assert "the person asks whether invoice 7 is paid" in told["prompt"]
    assert "invoice 7: 30 EUR" in told["prompt"]  # the file, read from the workspace
    assert '<message n="-1" from="person">\nis invoice 7 paid?' in told["prompt"]
    front_trace = trace(cli, first["id"])
    assert front_trace["children"][0]["id"] == successor["id"]
    assert "handed off to the agent billing" in tool_results(front_trace)[0]["content"].lower()
    # Its own final text was never asked of the model, nor passed on as an answer.
    assert front_trace["run"]["result"] == "(handed off)"

    # The group's session is the successor's now: the next message goes to billing.
    again = cli("agent", "run", "and the next one?")
    assert again.exit_code == 0, again.output
    assert "billing again" in again.stdout
    assert runs(cli)[0]["agent"] == "billing"


def test_handoff_refusals_and_bad_context(cli, tmp_path, pynchy_home, monkeypatch):
    billing = write_script(tmp_path / "billing.json", [{"text": "billing"}])
    agents_config(pynchy_home, billing={"model": billing})
    calls = [
        call("handoff", agent="billing", summary="s", files=["../../etc/passwd"]),
        call("handoff", agent="billing", summary="s", messages=[7]),
    ]
    model = write_script(tmp_path / "s.json", [{"tool_calls": calls}, {"text": "kept it"}])
    result = cli("agent", "run", "--model", model, "hand it over")
    assert result.exit_code == 0, result.output
    assert "kept it" in result.stdout
    assert len(runs(cli)) == 1  # no handoff happened: the first agent answered
    bad_file, bad_message = tool_results(trace(cli, runs(cli)[0]["id"]))
    assert bad_file["is_error"] and "outside" in bad_file["content"]
    assert bad_message["is_error"] and "no message 7" in bad_message["content"]

    monkeypatch.setenv("PYNCHY_LIMITS__MAX_HANDOFFS", "0")
    again = write_script(tmp_path / "t.json", [{"tool_calls": calls[1:]}, {"text": "kept"}])
    assert cli("agent", "run", "--model", again, "--new-session", "now?").exit_code == 0
    [refused] = tool_results(trace(cli, runs(cli)[0]["id"]))
    assert refused["is_error"] and "at most 0 (limits.max_handoffs)" in refused["content"]
    assert len(refusals(cli, "handoff")) == 1


def test_handoff_in_serve_replies_once_with_the_successor(tmp_path, pynchy_home):
    billing = write_script(
        tmp_path / "billing.json",
        [{"text": "billing: paid"}, {"text": "billing: still paid"}],
        replay="session",
    )
    agents_config(pynchy_home, billing={"description": "invoices", "model": billing})
    front = write_script(
        tmp_path / "front.json",
        [{"tool_calls": [call("handoff", agent="billing", summary="invoice")]}, {"text": "NO"}],
    )
    service = Serve(pynchy_home, model=front, env={"PYNCHY_LIMITS__IDLE_TIMEOUT": "0"}).start()
    try:
        sent = service.send("main", "is it paid?")

        def replies() -> list[dict]:
            return [m for m in service.messages("main") if m["sender_kind"] == "assistant"]

        service.wait_for(replies, "the reply")
        service.wait_for(lambda: not service.get("/status")["groups"][0]["running"], "run end")
        assert [(m["content"], m["reply_to"]) for m in replies()] == [
            ("billing: paid", sent["message"]["id"])
        ]
        cursor = service.get("/groups/main/messages")["last_answered_id"]
        assert cursor == sent["message"]["id"]
        second = service.send("main", "and now?")
        service.wait_for(lambda: len(replies()) == 2, "the second reply")
        assert replies()[1]["content"] == "billing: still paid"
        assert replies()[1]["reply_to"] == second["message"]["id"]
        assert not [m for m in service.messages("main") if m["sender_kind"] == "host"]
    finally:
        service.kill9()


def test_what_a_delegate_read_taints_its_parent_and_the_next_delegate(cli, tmp_path, pynchy_home):
    server, calls = policy_server(tmp_path)
    reader = write_script(
        tmp_path / "reader.json",
        [{"tool_calls": [call("mcp__pol__fetch", url="https://example.org")]}, {"text": "read"}],
    )
    poster = write_script(
        tmp_path / "poster.json",
        [{"tool_calls": [call("mcp__pol__post", text="from poster")]}, {"text": "tried"}],
    )
    agents_config(pynchy_home, reader={"model": reader}, poster={"model": poster})
    config = (pynchy_home / "config.toml").read_text()
    (pynchy_home / "config.toml").write_text(config + server)
    # trusted: external tools run without asking, so only the lethal trifecta asks here
    assert cli("groups", "add", "main", "--admin", "--profile", "trusted").exit_code == 0
    parent = write_script(
        tmp_path / "parent.json",
        [
            {"tool_calls": [call("delegate", task="read the page", agent="reader")]},
            {"tool_calls": [call("mcp__pol__post", text="from parent")]},
            {"tool_calls": [call("delegate", task="post it", agent="poster")]},
            {"text": "done"},
        ],
    )
    assert cli("agent", "run", "--model", parent, "go").exit_code == 0
    assert called(calls) == ["fetch https://example.org"]  # no post went out
    root = runs(cli)[-1]
    read, posted, delegated = tool_results(trace(cli, root["id"]))
    assert read["content"] == "read"
    assert "untrusted content from mcp__pol__fetch" in posted["content"]
    assert delegated["content"] == "tried"
    poster_run = runs(cli)[0]
    [denied] = tool_results(trace(cli, poster_run["id"]))
    assert denied["is_error"] and "untrusted content from mcp__pol__fetch" in denied["content"]
    inherited = json.loads(cli("audit", "--decision", "inherited", "--json").stdout)
    assert [r["run_id"] for r in inherited] == [root["id"], poster_run["id"]]


def test_stopping_a_parent_stops_its_delegate(cli, tmp_path, pynchy_home):
    slow = write_script(tmp_path / "slow.json", [{"tool_calls": [bash("sleep 120")]}])
    agents_config(pynchy_home, slow={"description": "takes its time", "model": slow})
    parent = write_script(
        tmp_path / "parent.json", [{"tool_calls": [call("delegate", task="x", agent="slow")]}]
    )
    env = {
        **os.environ,
        "PYNCHY_HOME": str(pynchy_home),
        "PYNCHY_RUNTIME": "process",
        "PYNCHY_ALLOW_PROCESS_RUNTIME": "true",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pynchy_cli", "agent", "run", "--model", parent, "go"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(600):  # until the delegate's bash is running
            listed = runs(cli)
            child = [r for r in listed if r["link"] == "delegate" and r["status"] == "running"]
            if child and any(e["kind"] == "tool_use" for e in trace(cli, child[0]["id"])["events"]):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the delegate never started its tool")
        root = next(r for r in listed if r["parent_run_id"] is None)
        assert cli("agent", "stop", root["id"]).exit_code == 0
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    statuses = {r["link"]: r["status"] for r in runs(cli)}
    assert statuses == {None: "stopped", "delegate": "stopped"}
