"""End to end: `pynchy agent run` (process runtime, a scripted model) with the installed
plugin and a real Radicale. The host runs the calendar's MCP server; reading runs at once,
deleting waits for a person, who answers on the terminal (a pty here)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from radicale_server import PASSWORD, USER, Radicale
from test_calendar_tools import add_event

from pynchy_cli import testing

PROCESS = {"PYNCHY_ALLOW_PROCESS_RUNTIME": "true"}


def run_agent(home: Path, turns: list[dict[str, Any]], answers: str) -> dict[str, Any]:
    """The trace of a scripted run (process runtime); config.toml holds the credentials."""
    return testing.scripted_run(
        home, turns, runtime="process", answers=answers, drop_env=("CALDAV_",), env=PROCESS
    )


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
