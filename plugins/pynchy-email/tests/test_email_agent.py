"""End to end: `pynchy agent run` (process runtime, a scripted model) with the installed
plugin, a real Dovecot and aiosmtpd. The host runs the email MCP server; searching,
reading and marking run at once, a reply waits for a person, who answers on the terminal
(a pty here)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mail_servers import PASSWORD, SMTP_PASSWORD, USER, Dovecot, SmtpSink
from test_email_tools import LUNCH

from pynchy_cli import testing

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


PROCESS = {"PYNCHY_ALLOW_PROCESS_RUNTIME": "true"}


def run_agent(home: Path, turns: list[dict[str, Any]], answers: str) -> dict[str, Any]:
    """The trace of a scripted run (process runtime); config.toml holds the credentials."""
    return testing.scripted_run(
        home, turns, runtime="process", answers=answers, drop_env=("EMAIL_",), env=PROCESS
    )


def results(trace: dict[str, Any]) -> list[tuple[str, bool]]:
    events = trace["events"]
    return [
        (e["data"]["content"], e["data"]["is_error"]) for e in events if e["kind"] == "tool_result"
    ]


def approvals(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "pynchy.db") as db:
        return db.execute("select tool, status from approvals order by rowid").fetchall()


@pytest.fixture
def mail_home(pynchy_home: Path, dovecot: Dovecot, smtp: SmtpSink) -> Dovecot:
    (pynchy_home / "config.toml").write_text(
        f'[plugin.email]\nimap_host = "127.0.0.1"\nimap_port = {dovecot.port}\n'
        f'imap_security = "none"\nimap_user = "{USER}"\nimap_password = "{PASSWORD}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\nsmtp_security = "none"\n'
        f'smtp_password = "{SMTP_PASSWORD}"\n'
    )
    dovecot.deliver(LUNCH)
    return dovecot


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"name": f"mcp__email__{tool}", "input": arguments}


TURNS = [
    {
        "tool_calls": [
            call("search_messages", unread_only=True),
            call("read_message", uid=1),
            call("mark_message", uid=1, mark="read"),
            call("reply_email", uid=1, body="Friday works for me."),
        ]
    },
    {"text": "done"},
]


def test_agent_reads_at_once_and_replies_after_approval(
    pynchy_home: Path, mail_home: Dovecot, smtp: SmtpSink
):
    trace = run_agent(pynchy_home, TURNS, answers="y\n")
    (found, e1), (letter, e2), (marked, e3), (replied, e4) = results(trace)
    assert not (e1 or e2 or e3 or e4), results(trace)
    assert '"subject": "Lunch on Friday?"' in found and "Shall we have lunch" in letter
    assert '"unread": false' in marked and '"sent": true' in replied
    assert mail_home.flags(1) == {"\\Seen", "\\Answered"}
    [sent] = smtp.messages
    assert sent["to"] == ["ann@home.example.org"] and "Friday works for me." in sent["data"]
    # only the reply asked a person; search, read and mark did not
    assert approvals(pynchy_home) == [("mcp__email__reply_email", "approved")]
    dumped = json.dumps(trace)
    assert PASSWORD not in dumped and SMTP_PASSWORD not in dumped


def test_a_denied_reply_sends_nothing(pynchy_home: Path, mail_home: Dovecot, smtp: SmtpSink):
    trace = run_agent(pynchy_home, TURNS, answers="n\n")
    refused, is_error = results(trace)[-1]
    assert is_error and "approv" in refused
    assert smtp.messages == []
    assert approvals(pynchy_home) == [("mcp__email__reply_email", "denied")]
