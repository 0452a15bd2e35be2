"""End to end: `pynchy agent run` (process runtime, a scripted model) with the installed
plugin and a real Radicale. The host runs the calendar's MCP server; reading runs at once,
deleting waits for a person, who answers on the terminal (a pty here)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from radicale_server import PASSWORD, USER, Radicale
from test_calendar_tools import add_event


def pynchy(home: Path, *args: str, answers: str = "") -> subprocess.CompletedProcess[str]:
    """`pynchy ARGS` in a subprocess whose stdin is a terminal that types `answers`."""
    env = {**os.environ, "PYNCHY_HOME": str(home), "PYNCHY_ALLOW_PROCESS_RUNTIME": "true"}
    env = {k: v for k, v in env.items() if not k.startswith("CALDAV_")}  # config.toml only
    main, terminal = os.openpty()
    try:
        os.write(main, answers.encode())
        done = subprocess.run(
            [sys.executable, "-m", "pynchy_cli", *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    finally:
        os.close(terminal)
        os.close(main)
    assert done.returncode == 0, f"pynchy {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done


def run_agent(home: Path, turns: list[dict[str, Any]], answers: str) -> dict[str, Any]:
    script = home / "script.json"
    script.write_text(json.dumps({"turns": turns}))
    model = f"scripted:{script}"
    pynchy(home, "agent", "run", "--runtime", "process", "--model", model, "go", answers=answers)
    runs = json.loads(pynchy(home, "agent", "ps", "--all", "--json").stdout)
    return json.loads(pynchy(home, "agent", "trace", runs[0]["id"], "--json").stdout)


def results(trace: dict[str, Any]) -> list[tuple[str, bool]]:
    return [
        (e["data"]["content"], e["data"]["is_error"])
        for e in trace["events"]
        if e["kind"] == "tool_result"
    ]


def approvals(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "pynchy.db") as db:
        return db.execute("select tool, status from approvals order by rowid").fetchall()


@pytest.fixture
def calendar_home(pynchy_home: Path, radicale: Radicale) -> Radicale:
    (pynchy_home / "config.toml").write_text(
        f'[plugin.calendar]\nurl = "{radicale.url}"\nusername = "{USER}"\npassword = "{PASSWORD}"\n'
    )
    work = radicale.calendar("work", "Work")
    add_event(work, "standup", "Standup", "20270105T090000Z", "20270105T091500Z")
    return radicale


TURNS = [
    {
        "tool_calls": [
            {
                "name": "mcp__calendar__list_events",
                "input": {"start": "2027-01-01", "end": "2027-01-31"},
            },
            {"name": "mcp__calendar__delete_event", "input": {"uid": "standup"}},
        ]
    },
    {"text": "done"},
]


def remaining(radicale: Radicale) -> list[str]:
    events = radicale.client().principal().calendar(cal_id="work").events()
    return [str(e.component.get("summary")) for e in events]


def test_agent_reads_at_once_and_deletes_after_approval(pynchy_home: Path, calendar_home: Radicale):
    trace = run_agent(pynchy_home, TURNS, answers="y\n")
    (listed, list_error), (deleted, delete_error) = results(trace)
    assert not list_error and '"summary": "Standup"' in listed
    assert not delete_error and '"deleted"' in deleted
    assert remaining(calendar_home) == []
    # only the delete asked a person; the read-only list did not
    assert approvals(pynchy_home) == [("mcp__calendar__delete_event", "approved")]
    assert PASSWORD not in json.dumps(trace)  # the credentials stayed with the server


def test_a_denied_delete_leaves_the_event(pynchy_home: Path, calendar_home: Radicale):
    trace = run_agent(pynchy_home, TURNS, answers="n\n")
    [_, (refused, is_error)] = results(trace)
    assert is_error and "approv" in refused
    assert remaining(calendar_home) == ["Standup"]
    assert approvals(pynchy_home) == [("mcp__calendar__delete_event", "denied")]
