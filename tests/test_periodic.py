"""Periodic agents: [periodic.NAME] parsed and checked, `pynchy periodic ...`, each due time
run once whoever runs it (serve, a timer's `agent run --periodic`), results and failures in
the group, the health report. Real SQLite files, real `pynchy` processes, the echo model."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import require_podman, write_script
from servehelp import Serve

CONFIG = """\
# my settings: this comment must survive enable/disable
model = "echo"
runtime = "process"
allow_process_runtime = true

[periodic.digest]  # the morning digest
schedule = "* * * * *"
group = "main"
prompt = "summarise the day"
"""


def pynchy(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYNCHY_HOME": str(home), "PYNCHY_PLUGINS": ""}
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def one_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    return lines[0]


def rows(home: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    conn = sqlite3.connect(home / "pynchy.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def home(pynchy_home: Path) -> Path:
    (pynchy_home / "config.toml").write_text(CONFIG)
    assert pynchy(pynchy_home, "groups", "add", "main", "--admin").returncode == 0
    return pynchy_home


def away_from_minute_edge() -> None:
    """A "* * * * *" due time is the current minute: start a race well inside one."""
    while not 2 <= datetime.now().second <= 35:
        time.sleep(0.5)


# --- config ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('schedule = "every day"\ngroup = "main"\nprompt = "x"', "periodic.bad.schedule"),
        ('schedule = "* * * * *"\ngroup = "main"\nprompt = "x"\nprompt_file = "p.md"', "not both"),
        ('schedule = "* * * * *"\ngroup = "main"', "prompt or prompt_file missing"),
        (
            'schedule = "* * * * *"\ngroup = "main"\nprompt = "x"\nprofile = "nope"',
            "no security profile 'nope'",
        ),
        ('schedule = "* * * * *"\ngroup = "main"\nprompt_file = "missing.md"', "cannot read"),
    ],
)
def test_bad_definitions_are_one_line_with_a_hint(pynchy_home: Path, table: str, expected: str):
    (pynchy_home / "config.toml").write_text(f"[periodic.bad]\n{table}\n")
    line = one_error(pynchy(pynchy_home, "periodic", "list"))
    assert line.startswith("pynchy: error: invalid setting periodic.bad"), line
    assert expected in line


def test_prompt_file_is_read_from_the_config_folder(pynchy_home: Path):
    (pynchy_home / "digest.md").write_text("Summarise what happened today.\n")
    (pynchy_home / "config.toml").write_text(
        '[periodic.digest]\nschedule = "0 7 * * *"\ngroup = "main"\nprompt_file = "digest.md"\n'
    )
    shown = json.loads(pynchy(pynchy_home, "periodic", "show", "digest", "--json").stdout)
    assert shown["prompt"] == "Summarise what happened today.\n"
    assert shown["enabled"] is True and shown["source"] == "config"


def test_unknown_group_fails_at_run_time_with_one_line(home: Path):
    text = (home / "config.toml").read_text().replace('group = "main"', 'group = "family"')
    (home / "config.toml").write_text(text)
    line = one_error(pynchy(home, "periodic", "run", "digest"))
    assert "periodic agent digest: no group named 'family'" in line
    assert "pynchy groups add family" in line


# --- the commands ----------------------------------------------------------------------


def test_list_show_enable_disable_keep_the_config_file(home: Path):
    listed = json.loads(pynchy(home, "periodic", "list", "--json").stdout)
    digest = next(a for a in listed if a["name"] == "digest")
    assert digest["enabled"] is True and digest["schedule"] == "* * * * *"
    assert digest["last_run"] == "never" and digest["next_due"] != "-"
    table = pynchy(home, "periodic", "list").stdout
    assert "digest" in table and "config" in table

    done = pynchy(home, "periodic", "disable", "digest")
    assert done.returncode == 0, done.stderr
    text = (home / "config.toml").read_text()
    assert text.startswith(CONFIG.rstrip("\n"))  # every line and comment kept
    assert "enabled = false" in text
    listed = json.loads(pynchy(home, "periodic", "list", "--json").stdout)
    assert listed[[a["name"] for a in listed].index("digest")]["enabled"] is False

    assert pynchy(home, "periodic", "enable", "digest").returncode == 0
    assert "enabled = true" in (home / "config.toml").read_text()
    line = one_error(pynchy(home, "periodic", "enable", "nope"))
    assert "no periodic agent 'nope'" in line


def test_run_now_answers_on_the_terminal_and_in_the_group(home: Path):
    done = pynchy(home, "periodic", "run", "digest")
    assert done.returncode == 0, done.stderr
    assert "summarise the day" in done.stdout  # the echo model's answer, on the terminal
    assert "periodic digest: ok" in done.stderr
    [run] = rows(home, "select * from periodic_runs")
    assert run["trigger"] == "manual" and run["status"] == "ok"
    # The answer is the group's, with an outbound row serve sends (it is not running).
    [reply] = rows(home, "select * from messages where run_id = ?", run["run_id"])
    assert reply["sender_kind"] == "assistant" and "summarise the day" in reply["content"]
    [out] = rows(home, "select * from outbound where message_id = ?", reply["id"])
    assert out["sent_at"] is None and out["key"].startswith("periodic:")
    shown = pynchy(home, "periodic", "show", "digest").stdout
    assert "manual" in shown and "ok" in shown


def test_a_failed_run_is_a_host_message_in_the_group(home: Path):
    text = (
        (home / "config.toml")
        .read_text()
        .replace('prompt = "summarise the day"', 'prompt = "x"\nmodel = "openai:gpt-4o"')
    )
    (home / "config.toml").write_text(text)
    line = one_error(pynchy(home, "agent", "run", "--periodic", "digest"))
    assert "openai" in line.lower()
    [run] = rows(home, "select * from periodic_runs")
    assert run["status"] == "failed" and run["trigger"] == "timer"
    [notice] = rows(home, "select * from messages where sender_kind = 'host'")
    assert notice["content"].startswith("Periodic agent digest failed: ")
    assert "\n" not in notice["content"]


def test_agent_run_periodic_still_runs_a_named_task(home: Path):
    added = pynchy(home, "tasks", "add", "-g", "main", "--cron", "0 3 * * *", "--name", "old", "hi")
    assert added.returncode == 0, added.stderr
    done = pynchy(home, "agent", "run", "--periodic", "old")
    assert done.returncode == 0, done.stderr
    assert rows(home, "select status from task_runs")[0]["status"] == "succeeded"
    assert rows(home, "select * from periodic_runs") == []


# --- exactly once ---------------------------------------------------------------------------


def test_timers_racing_run_a_due_time_once(home: Path):
    """Four timer commands started at once on the same SQLite file: one runs, three see
    the due time taken."""
    away_from_minute_edge()
    env = {**os.environ, "PYNCHY_HOME": str(home), "PYNCHY_PLUGINS": ""}
    command = [sys.executable, "-m", "pynchy_cli", "agent", "run", "--periodic", "digest"]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    claims = rows(home, "select * from periodic_runs")
    assert len(claims) == 1 and claims[0]["status"] == "ok", [dict(c) for c in claims]
    taken = [err for _, err in outputs if b"already ran" in err]
    assert len(taken) == 3
    assert len(rows(home, "select id from runs")) == 1


def test_serve_and_the_timer_run_a_due_time_once(home: Path):
    """serve (its scheduler) and a timer's command, both after the same due time: one run,
    one answer in the group; the timer's answer is sent by serve."""
    away_from_minute_edge()
    serve = Serve(home).start()
    try:
        timer = pynchy(home, "agent", "run", "--periodic", "digest")
        assert timer.returncode == 0, timer.stderr
        due = serve.wait_for(
            lambda: [r for r in rows(home, "select * from periodic_runs") if r["status"] == "ok"],
            "the periodic run",
        )
        time.sleep(1.5)  # a second tick of serve's scheduler: it must not claim it again
        claims = rows(home, "select * from periodic_runs")
        assert len(claims) == 1, [dict(c) for c in claims]
        assert claims[0]["due_at"] == due[0]["due_at"]
        answers = [m for m in serve.messages("main") if m["sender_kind"] == "assistant"]
        assert len(answers) == 1 and "summarise the day" in answers[0]["content"]
        # Whoever ran it, serve sent it: no outbound row is left unsent.
        serve.wait_for(
            lambda: not rows(home, "select key from outbound where sent_at is null"),
            "the answer sent",
        )
        status = serve.get("/status")["health"]
        assert [r["name"] for r in status["periodic"]] == ["digest"]
        report = pynchy(home, "status")
        assert report.returncode == 0, report.stderr
        assert "periodic agents, last 24 h: digest ok" in report.stdout
        assert "uptime: " in report.stdout and "not running" not in report.stdout
        # The /status chat command: the host answers with the same report, no agent run.
        runs_before = len(rows(home, "select id from runs"))
        serve.send("main", "/status")
        reply = serve.wait_for(
            lambda: [m for m in serve.messages("main") if m["content"].startswith("version: ")],
            "the /status reply",
        )
        assert "digest ok" in reply[0]["content"] and reply[0]["sender_kind"] == "host"
        assert len(rows(home, "select id from runs")) == runs_before
    finally:
        serve.terminate()


def test_serve_alone_runs_a_due_agent_and_reports_a_missing_group(home: Path):
    text = CONFIG + '\n[periodic.lost]\nschedule = "* * * * *"\ngroup = "nowhere"\nprompt = "x"\n'
    (home / "config.toml").write_text(text)
    away_from_minute_edge()
    serve = Serve(home).start()
    try:
        serve.wait_for(
            lambda: (
                len([r for r in rows(home, "select * from periodic_runs") if r["finished_at"]]) == 2
            ),
            "both due times settled",
        )
        by_name = {r["name"]: r for r in rows(home, "select * from periodic_runs")}
        assert by_name["digest"]["status"] == "ok" and by_name["digest"]["trigger"] == "serve"
        assert by_name["lost"]["status"] == "failed"
        assert "no group named 'nowhere'" in by_name["lost"]["summary"]
        # Disabled while serve runs: serve reads config.toml again, the timer does nothing.
        assert pynchy(home, "periodic", "disable", "digest").returncode == 0
        idle = pynchy(home, "agent", "run", "--periodic", "digest")
        assert idle.returncode == 0 and "disabled" in idle.stderr
    finally:
        serve.terminate()


def test_status_without_serve_still_reports_health(home: Path):
    assert pynchy(home, "periodic", "run", "digest").returncode == 0
    done = pynchy(home, "status", "--json")
    assert done.returncode != 0  # serve is not running: said on stderr, in one line
    health = json.loads(done.stdout)["health"]
    assert health["serve_started_at"] is None
    assert [r["status"] for r in health["periodic"]] == ["ok"]
    assert health["version"]
    text = pynchy(home, "status").stdout
    assert "uptime: serve is not running" in text and "digest ok" in text


def test_due_time_is_the_latest_firing_at_or_before_now():
    from pynchy_cli.core.periodic.schedule import due_time

    at_seven = datetime(2026, 12, 2, 7, 0, 0).astimezone()
    assert due_time("0 7 * * *", at_seven) == at_seven.astimezone(UTC)
    late = at_seven.replace(second=4)  # a timer firing a few seconds late: the same due time
    assert due_time("0 7 * * *", late) == at_seven.astimezone(UTC)


def test_timer_runs_the_agent_in_a_podman_container(home: Path, tmp_path: Path):
    require_podman()
    model = write_script(tmp_path / "script.json", [{"text": "all quiet"}])
    text = (home / "config.toml").read_text()
    text = text.replace('runtime = "process"\n', "").replace(
        'prompt = "summarise the day"', f'prompt = "report"\nmodel = "{model}"'
    )
    (home / "config.toml").write_text(text)
    done = pynchy(home, "agent", "run", "--periodic", "digest", "--runtime", "podman")
    assert done.returncode == 0, done.stderr
    [run] = rows(home, "select * from runs")
    assert run["runtime"] == "podman" and run["status"] == "succeeded"
    [claim] = rows(home, "select * from periodic_runs")
    assert claim["status"] == "ok" and claim["summary"] == "all quiet"


def test_mcp_servers_reach_the_agents_runs_only(home: Path, tmp_path: Path):
    """`mcp_servers` offers a server to the periodic agent's runs beside the group's: here
    one that config keeps from the group otherwise."""
    script = write_script(
        tmp_path / "time.json",
        [
            {"tool_calls": [{"name": "mcp__time__get_current_time", "input": {"timezone": "UTC"}}]},
            {"text": "the time is known"},
        ],
    )
    server = f'command = ["{sys.executable}", "-m", "mcp_server_time"]'
    config = CONFIG.replace('prompt = "summarise the day"', 'prompt = "what time is it?"')
    (home / "config.toml").write_text(
        f'{config}mcp_servers = ["time"]\nmodel = "{script}"\n\n'
        f'[mcp.time]\n{server}\nrisk = "read"\ngroups = ["nobody"]\n'
    )
    done = pynchy(home, "periodic", "run", "digest")
    assert done.returncode == 0, done.stderr
    [run] = rows(home, "select * from periodic_runs")
    results = [
        json.loads(r["data"])
        for r in rows(
            home,
            "select * from run_events where run_id = ? and kind = ?",
            run["run_id"],
            "tool_result",
        )
    ]
    assert len(results) == 1 and not results[0]["is_error"], results
    assert "UTC" in results[0]["content"]
    # The group's own runs still do not see it.
    plain = pynchy(home, "agent", "run", "--model", script, "what time is it?")
    assert plain.returncode == 0, plain.stderr
    [_, other] = rows(home, "select id from runs order by started_at")
    [refused] = [
        json.loads(r["data"])
        for r in rows(
            home,
            "select * from run_events where run_id = ? and kind = ?",
            other["id"],
            "tool_result",
        )
    ]
    assert refused["is_error"] and "not available in this run" in refused["content"]
