"""`pynchy audit`: the policy gate's decisions and the calls' real outcomes, filtered."""

from __future__ import annotations

import json

import pytest
from helpers import write_script


@pytest.fixture(autouse=True)
def a_run_with_decisions(cli, tmp_path, pynchy_home, monkeypatch):
    """One real run: a read call, a call that is allowed and then fails (another group's
    task), a refused schedule and a call with bad arguments."""
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")
    monkeypatch.setenv("PYNCHY_PLUGINS", "")
    assert cli("groups", "add", "other").exit_code == 0
    assert cli("tasks", "add", "-g", "other", "--every", "1h", "theirs").exit_code == 0
    calls = [
        {"name": "list_tasks", "input": {}},
        {"name": "pause_task", "input": {"task_id": 1}},
        {"name": "schedule_task", "input": {"prompt": "p", "kind": "interval", "spec": "5s"}},
        {"name": "cancel_task", "input": {"task_id": "one"}},
    ]
    model = write_script(tmp_path / "s.json", [{"tool_calls": calls}, {"text": "done"}])
    assert cli("agent", "run", "--model", model, "go").exit_code == 0


def rows(cli, *args: str) -> list[dict]:
    result = cli("audit", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_decisions_and_outcomes(cli):
    listed = [r for r in rows(cli) if r["action"].startswith("tool:")]
    assert [(r["action"], r["decision"], r["tier"], r["outcome"]) for r in listed] == [
        ("tool:list_tasks", "allowed", "read", "ok"),
        ("tool:pause_task", "allowed", "write", "error"),
        ("tool:schedule_task", "refused", "write", None),
        ("tool:cancel_task", "refused", "write", None),
    ]
    assert listed[1]["error"].startswith("no task 1")  # allowed, then it failed
    assert "agents of this group may schedule at most every 5m" in listed[2]["reason"]
    assert listed[3]["reason"] == "argument task_id must be of type integer"
    assert all(r["group_name"] == "main" and r["run_id"] for r in listed)
    assert [r["id"] for r in listed] == sorted(r["id"] for r in listed)  # oldest first


def test_filters(cli):
    assert [r["action"] for r in rows(cli, "--decision", "refused")] == [
        "tool:schedule_task",
        "tool:cancel_task",
    ]
    assert [r["decision"] for r in rows(cli, "--tool", "pause_task")] == ["allowed"]
    assert len(rows(cli, "--tool", "*_task")) == 3
    assert rows(cli, "--group", "other") == []
    assert len(rows(cli, "--group", "main", "--since", "1h")) >= 4
    assert rows(cli, "--since", "2999-01-01T00:00") == []
    assert len(rows(cli, "--since", "2000-01-01", "--limit", "2")) == 2
    assert rows(cli, "--limit", "1")[0]["action"] == "tool:cancel_task"  # the newest


def test_bad_values_are_one_line(cli):
    result = cli("audit", "--since", "yesterday-ish")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "pynchy: error: bad --since 'yesterday-ish'. Use an ISO time such as 2026-05-01T09:00"
        " or an age such as 30m, 2h, 1d"
    ]
    missing = cli("audit", "--group", "nope")
    assert missing.exit_code == 4 and "no group named 'nope'" in missing.output


def test_table_on_a_terminal_like_output(cli):
    result = cli("audit", "--decision", "allowed")
    assert result.exit_code == 0
    header, *lines = result.stdout.strip().splitlines()
    assert header.split("\t")[:6] == ["id", "at", "group_name", "run_id", "action", "decision"]
    assert [line.split("\t")[4] for line in lines] == ["tool:list_tasks", "tool:pause_task"]
