"""The calendar's MCP tools against a real Radicale server: in-process through the SDK's
client for the tools' behaviour, and as `python -m pynchy_calendar.server` over stdio the
way pynchy starts it."""

from __future__ import annotations

import asyncio
import functools
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from mcp import StdioServerParameters
from pynchy_calendar.plugin import calendar_server
from pynchy_calendar.server import server
from radicale_server import PASSWORD, USER, Radicale, free_port

from pynchy_cli import testing

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//pynchy tests//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20270101T000000Z
DTSTART:{start}
DTEND:{end}
SUMMARY:{summary}
{extra}END:VEVENT
END:VCALENDAR
"""


def add_event(calendar: Any, uid: str, summary: str, start: str, end: str, extra: str = "") -> None:
    calendar.save_event(EVENT.format(uid=uid, summary=summary, start=start, end=end, extra=extra))


call = functools.partial(testing.mcp_call, server)
error_of = functools.partial(testing.mcp_error, server)


@pytest.fixture
def configured(radicale: Radicale, monkeypatch: pytest.MonkeyPatch) -> Radicale:
    for name, value in radicale.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CALDAV_TIMEZONE", "Europe/Berlin")
    return radicale


def test_tools_carry_the_annotations_the_policy_gate_reads():
    tools = testing.mcp_tool_hints(server)
    assert set(tools) == {
        "list_calendars",
        "list_events",
        "create_event",
        "update_event",
        "delete_event",
    }
    for name in ("list_calendars", "list_events"):
        assert tools[name].read_only_hint is True
    for name in ("create_event", "update_event"):
        hints = tools[name]
        assert (hints.read_only_hint, hints.destructive_hint, hints.open_world_hint) == (
            False,
            False,
            False,
        )
    assert tools["delete_event"].destructive_hint is True


def test_list_calendars_and_events_in_a_range(configured: Radicale):
    work = configured.calendar("work", "Work")
    home = configured.calendar("home", "Home")
    add_event(
        work,
        "standup",
        "Standup",
        "20270105T090000Z",
        "20270105T091500Z",
        "RRULE:FREQ=DAILY;COUNT=3\n",
    )
    add_event(
        work,
        "review",
        "Review",
        "20270106T140000Z",
        "20270106T150000Z",
        "LOCATION:Room 4\nDESCRIPTION:" + "x" * 5000 + "\n",
    )
    add_event(home, "trip", "Trip", "20270110T080000Z", "20270110T200000Z")
    add_event(home, "later", "Later", "20270301T080000Z", "20270301T090000Z")

    calendars = call("list_calendars")["calendars"]
    assert sorted((c["name"], c["id"]) for c in calendars) == [("Home", "home"), ("Work", "work")]
    assert sum(c["default"] for c in calendars) == 1

    found = call("list_events", start="2027-01-01", end="2027-02-01")
    assert found["more"] == 0
    assert [(e["summary"], e["calendar"]) for e in found["events"]] == [
        ("Standup", "Work"),
        ("Standup", "Work"),
        ("Review", "Work"),
        ("Standup", "Work"),
        ("Trip", "Home"),
    ]
    first = found["events"][0]
    assert datetime.fromisoformat(first["start"]) == datetime.fromisoformat("2027-01-05T09:00Z")
    assert first["recurring"] is True and first["all_day"] is False
    review = found["events"][2]
    assert review["location"] == "Room 4"
    assert len(review["description"]) < 2100 and review["description"].endswith("[3000 more]")

    only_home = call("list_events", start="2027-01-01", end="2027-12-31", calendar="Home")
    assert [e["uid"] for e in only_home["events"]] == ["trip", "later"]
    limited = call("list_events", start="2027-01-01", end="2027-02-01", limit=2)
    assert (len(limited["events"]), limited["more"]) == (2, 3)


def test_create_update_and_delete(configured: Radicale):
    configured.calendar("work", "Work")
    made = call(
        "create_event",
        summary="Dentist",
        start="2027-02-03T15:30",  # no offset: CALDAV_TIMEZONE (Berlin, +01:00 in winter)
        location="Main St 1",
    )
    assert made["summary"] == "Dentist" and made["calendar"] == "Work"
    start = datetime.fromisoformat(made["start"])
    assert start.utcoffset() == timedelta(hours=1) and start.hour == 15
    assert datetime.fromisoformat(made["end"]) - start == timedelta(hours=1)
    holiday = call("create_event", summary="Holiday", start="2027-02-10", end="2027-02-12")
    assert (holiday["all_day"], holiday["start"], holiday["end"]) == (
        True,
        "2027-02-10",
        "2027-02-12",
    )

    moved = call("update_event", uid=made["uid"], start="2027-02-04T09:00+01:00", location="")
    assert datetime.fromisoformat(moved["start"]) == datetime.fromisoformat(
        "2027-02-04T09:00+01:00"
    )
    assert datetime.fromisoformat(moved["end"]) - datetime.fromisoformat(
        moved["start"]
    ) == timedelta(hours=1)
    assert "location" not in moved and moved["summary"] == "Dentist"

    stored = configured.client().principal().calendar(cal_id="work").get_event_by_uid(made["uid"])
    assert stored.component.get("location") is None
    assert stored.component.start == datetime.fromisoformat("2027-02-04T09:00+01:00")

    gone = call("delete_event", uid=made["uid"])
    assert gone["deleted"]["summary"] == "Dentist"
    left = call("list_events", start="2027-02-01", end="2027-03-01")["events"]
    assert [e["summary"] for e in left] == ["Holiday"]


def test_tool_errors_are_one_clear_line(configured: Radicale, monkeypatch: pytest.MonkeyPatch):
    configured.calendar("work", "Work")
    assert "no event with uid 'nope'" in error_of("delete_event", uid="nope")
    assert "no event with uid 'nope'" in error_of("update_event", uid="nope", summary="x")
    assert "no calendar named 'Gym'; the calendars are: Work" in error_of(
        "create_event", summary="x", start="2027-01-01", calendar="Gym"
    )
    assert "not a date or time" in error_of("list_events", start="next tuesday", end="2027-01-01")
    assert "end must be after start" in error_of(
        "create_event", summary="x", start="2027-01-02T10:00", end="2027-01-02T09:00"
    )
    assert "both be days" in error_of(
        "create_event", summary="x", start="2027-01-02", end="2027-01-02T09:00"
    )
    assert "longer than 366 days" in error_of("list_events", start="2027-01-01", end="2029-01-01")
    assert "nothing to change" in error_of("update_event", uid="nope")

    monkeypatch.setenv("CALDAV_PASSWORD", "wrong")
    refused = error_of("list_calendars")
    assert "refused the login of 'alice'" in refused and "wrong" not in refused
    monkeypatch.setenv("CALDAV_URL", f"http://127.0.0.1:{free_port()}/")
    assert "cannot reach the CalDAV server" in error_of("list_calendars")
    monkeypatch.delenv("CALDAV_URL")
    unset = error_of("list_events", start="2027-01-01", end="2027-01-02")
    assert "no CalDAV URL (CALDAV_URL) is set" in unset and "[plugin.calendar]" in unset
    # the agent's arguments are bounded by the input schema too
    assert error_of("list_events", start="2027-01-01", end="2027-01-02", limit=1000)


def test_the_registered_server_runs_over_stdio_with_its_environment(radicale: Radicale):
    """What pynchy runs: the registered command, with the settings only in its environment."""
    radicale.calendar("work", "Work")
    registered = calendar_server(
        testing.plugin_settings("calendar", {"url": radicale.url, "username": USER}),
        {"CALDAV_PASSWORD": PASSWORD},
    )
    assert registered.env == radicale.env()
    params = StdioServerParameters(
        command=registered.command[0], args=registered.command[1:], env=registered.env
    )
    calls = [
        ("create_event", {"summary": "Over stdio", "start": "2027-05-01T10:00Z"}),
        ("list_events", {"start": "2027-05-01", "end": "2027-05-02"}),
    ]
    (err1, made), (err2, listed) = asyncio.run(testing.mcp_answers(params, calls))
    assert not err1 and not err2
    assert [e["uid"] for e in listed["events"]] == [made["uid"]]
    assert date.fromisoformat(listed["events"][0]["start"][:10]) == date(2027, 5, 1)
