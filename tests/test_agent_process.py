"""`pynchy agent run` end to end with the process runtime (no isolation; development).

The same run path as in a container: the agent runner is a real subprocess that talks to
the host over the run's unix socket; model calls go through the host's agent core.
"""

from __future__ import annotations

import json

import pytest
from helpers import bash, tool_results, write_script

from pynchy_cli.core.errors import ExitCode


@pytest.fixture(autouse=True)
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def last_trace(cli) -> dict:
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    return json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)


def test_echo_run_streams_and_is_traced(cli):
    result = cli("agent", "run", "--model", "echo", "hello there")
    assert result.exit_code == 0, result.output
    assert "echo: hello there" in result.stdout
    trace = last_trace(cli)
    assert trace["run"]["status"] == "succeeded"
    assert trace["run"]["runtime"] == "process"
    assert "You are Pynchy" in trace["run"]["system_prompt"]
    kinds = [e["kind"] for e in trace["events"]]
    assert kinds[:2] == ["text", "usage"] and kinds[-1] == "result"
    human = cli("agent", "trace", trace["run"]["id"])
    assert "system prompt" in human.stdout and "echo: hello there" in human.stdout


def test_scripted_run_uses_every_local_tool(cli, tmp_path, pynchy_home):
    model = write_script(
        tmp_path / "script.json",
        [
            {
                "text": "writing",
                "tool_calls": [
                    {
                        "name": "write_file",
                        "input": {"path": "notes/a.txt", "content": "alpha\nbeta\n"},
                    },
                ],
            },
            {
                "tool_calls": [
                    {
                        "name": "edit_file",
                        "input": {"path": "notes/a.txt", "old_text": "beta", "new_text": "gamma"},
                    },
                    {"name": "read_file", "input": {"path": "notes/a.txt"}},
                    {"name": "list_files", "input": {"pattern": "**/*.txt"}},
                    {"name": "grep", "input": {"pattern": "gam+a"}},
                    bash("echo from-bash; pwd"),
                    {"name": "read_file", "input": {"path": "../../etc/passwd"}},
                ]
            },
            {"text": "all done"},
        ],
    )
    result = cli("agent", "run", "--model", model, "do the things")
    assert result.exit_code == 0, result.output
    assert (pynchy_home / "groups" / "main" / "notes" / "a.txt").read_text() == "alpha\ngamma\n"
    results = tool_results(last_trace(cli))
    contents = [r["content"] for r in results]
    assert "gamma" in contents[2]  # read_file
    assert "notes/a.txt" in contents[3]  # list_files
    assert "notes/a.txt:2:gamma" in contents[4]  # grep
    assert "from-bash" in contents[5] and "exit code: 0" in contents[5]
    assert results[6]["is_error"] and "outside the workspace" in contents[6]
    assert "all done" in result.stdout


def test_host_tools_schedule_and_list_tasks(cli, tmp_path):
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    {
                        "name": "schedule_task",
                        "input": {
                            "prompt": "water the plants",
                            "kind": "cron",
                            "spec": "0 9 * * *",
                        },
                    },
                    {"name": "send_message", "input": {"text": "working on it"}},
                ]
            },
            {
                "tool_calls": [
                    {"name": "list_tasks", "input": {}},
                    {"name": "pause_task", "input": {"task_id": "one"}},
                ]
            },
            {"text": "scheduled"},
        ],
    )
    assert cli("agent", "run", "--model", model, "schedule it").exit_code == 0
    tasks = json.loads(cli("tasks", "list", "--json").stdout)
    assert [(t["prompt"], t["created_by"]) for t in tasks] == [("water the plants", "agent")]
    results = tool_results(last_trace(cli))
    assert results[0]["content"].startswith("scheduled task")
    assert results[1]["content"] == "sent"
    assert "water the plants" in results[2]["content"]
    assert results[3]["is_error"] and "integer" in results[3]["content"]


def test_session_resumes_and_resets(cli, tmp_path):
    # With "replay": "session" the scripted model counts the resumed session's turns too,
    # so a resumed session moves on to the next turn.
    model = write_script(
        tmp_path / "s.json", [{"text": "first"}, {"text": "second"}], replay="session"
    )
    assert "first" in cli("agent", "run", "--model", model, "one").stdout
    assert "second" in cli("agent", "run", "--model", model, "two").stdout
    assert "first" in cli("agent", "run", "--model", model, "--new-session", "three").stdout


def test_missing_model_is_one_line(cli):
    result = cli("agent", "run", "hello")
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr.strip().splitlines()[-1] == (
        "pynchy: error: no model configured. "
        "Set ANTHROPIC_API_KEY or OPENAI_API_KEY, or run with --model echo"
    )


def test_process_runtime_refused_unless_allowed(cli, monkeypatch):
    monkeypatch.delenv("PYNCHY_ALLOW_PROCESS_RUNTIME")
    result = cli("agent", "run", "--model", "echo", "hi")
    assert result.exit_code != 0
    assert "allow_process_runtime" in result.stderr


def test_missing_container_runtime_is_one_line(cli, monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")
    monkeypatch.setenv("PYNCHY_CONTAINER_SOCKET", "/nonexistent/podman.sock")
    monkeypatch.setenv("CONTAINER_HOST", "unix:///nonexistent/2.sock")
    result = cli("agent", "run", "--model", "echo", "hi")
    assert result.exit_code == ExitCode.UNAVAILABLE
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("pynchy: error: no podman found") and "podman system service" in line


def test_unknown_group_and_run(cli):
    assert cli("agent", "run", "--group", "nope", "--model", "echo", "x").exit_code == 4
    assert cli("agent", "trace", "deadbeef").exit_code == 4


def test_periodic_runs_a_named_task_and_records_it(cli):
    assert cli("groups", "add", "ops", "--admin").exit_code == 0
    added = cli(
        "tasks", "add", "-g", "ops", "--cron", "0 3 * * *", "--name", "sweep", "check the disks"
    )
    assert added.exit_code == 0, added.output
    result = cli("agent", "run", "--periodic", "sweep", "--model", "echo")
    assert result.exit_code == 0, result.output
    assert "check the disks" in result.stdout
    runs = json.loads(cli("tasks", "runs", "1", "--json").stdout)
    assert [r["status"] for r in runs] == ["succeeded"]
    assert cli("agent", "run", "--periodic", "nope", "--model", "echo").exit_code == 4
