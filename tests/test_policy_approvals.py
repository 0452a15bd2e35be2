"""Approvals end to end, as a person sees them: approve, deny and expiry on a channel (the
terminal channel of a real `pynchy serve`, through its local API) and on the terminal of
`pynchy agent run` (a real pseudo-terminal). Denials are final: the run is told, the
decision is audited, and the queue does not run the same messages again."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_script
from servehelp import Serve

POLICY_SERVER = Path(__file__).parent / "fakes" / "mcp_policy_server.py"


@pytest.fixture(autouse=True)
def only_our_plugins(monkeypatch):
    monkeypatch.setenv("PYNCHY_PLUGINS", "")  # no installed third-party plugin joins in


def setup_home(home: Path, tmp_path: Path, timeout: int = 120) -> tuple[str, Path]:
    """A destructive-annotated MCP tool, and a model that calls it, then answers."""
    calls = tmp_path / "calls.txt"
    (home / "config.toml").write_text(
        f"[limits]\napproval_timeout = {timeout}\n\n"
        f'[mcp.pol]\ncommand = ["{sys.executable}", "{POLICY_SERVER}"]\n'
        f'env = {{ CALLS_FILE = "{calls}" }}\n'
    )
    model = write_script(
        tmp_path / "s.json",
        [{"tool_calls": [{"name": "mcp__pol__wipe", "input": {}}]}, {"text": "finished"}],
    )
    return model, calls


def db_rows(home: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(home / "pynchy.db") as db:
        return db.execute(sql).fetchall()


def wipe_result(home: Path) -> dict:
    [(data,)] = db_rows(home, "select data from run_events where kind = 'tool_result'")
    return json.loads(data)


def wipe_audit(home: Path) -> tuple[str, dict]:
    [(decision, detail)] = db_rows(
        home, "select decision, detail from audit where action = 'tool:mcp__pol__wipe'"
    )
    return decision, json.loads(detail)


# --- on a channel ----------------------------------------------------------------------


def ask_and_answer(home: Path, tmp_path: Path, answer: str | None, timeout: int = 120):
    model, calls = setup_home(home, tmp_path, timeout)
    serve = Serve(home, model=model).start()
    try:
        asked = serve.send("main", "please wipe")["message"]
        if answer is not None:
            notice = serve.wait_for(
                lambda: next(
                    (
                        m["content"]
                        for m in serve.messages("main")
                        if "Reply 'approve" in m["content"]
                    ),
                    None,
                ),
                "the approval request",
            )
            assert "(mcp__pol__wipe is a destructive tool)" in notice  # the gate's reason
            approval = re.search(r"Reply 'approve (\w+)'", notice).group(1)
            serve.send("main", f"{answer} {approval}", sender="bob")
        serve.wait_for(
            lambda: any(m["content"] == "finished" for m in serve.messages("main")),
            "the run to answer",
        )
    finally:
        serve.kill9()
    return asked, calls


def test_channel_approve(pynchy_home, tmp_path):
    _, calls = ask_and_answer(pynchy_home, tmp_path, "approve")
    assert calls.read_text() == "wipe\n"
    assert wipe_result(pynchy_home)["content"] == "wipe done"
    decision, detail = wipe_audit(pynchy_home)
    assert (decision, detail["by"]) == ("approved", "bob")
    assert db_rows(pynchy_home, "select status, decided_by from approvals") == [("approved", "bob")]
    assert db_rows(pynchy_home, "select outcome from audit where decision = 'approved'") == [
        ("ok",)
    ]


def test_channel_deny_is_final(pynchy_home, tmp_path):
    asked, calls = ask_and_answer(pynchy_home, tmp_path, "deny")
    assert not calls.exists()  # never reached the server
    result = wipe_result(pynchy_home)
    assert result["is_error"] and "It was not run: a person denied it" in result["content"]
    decision, detail = wipe_audit(pynchy_home)
    assert (decision, detail["by"], detail["reason"]) == ("denied", "bob", "not approved")
    assert db_rows(pynchy_home, "select status, decided_by from approvals") == [("denied", "bob")]
    # the run went on and answered; the group's cursor passed the message: no retry
    assert db_rows(pynchy_home, "select count(*) from runs") == [(1,)]
    [(cursor,)] = db_rows(pynchy_home, "select last_answered_id from groups where name = 'main'")
    assert cursor >= asked["id"]


def test_channel_expiry_denies(pynchy_home, tmp_path):
    _, calls = ask_and_answer(pynchy_home, tmp_path, None, timeout=1)
    assert not calls.exists()
    result = wipe_result(pynchy_home)
    assert result["is_error"] and "no one answered in time" in result["content"]
    decision, detail = wipe_audit(pynchy_home)
    assert (decision, detail["by"]) == ("expired", "timeout")
    assert db_rows(pynchy_home, "select status from approvals") == [("expired",)]
    assert db_rows(pynchy_home, "select count(*) from runs") == [(1,)]


# --- on the terminal of `pynchy agent run` ------------------------------------------------


def agent_run_on_a_tty(home: Path, model: str, answer: str | None) -> tuple[int, str]:
    """`pynchy agent run` on a pseudo-terminal; types `answer` when it asks."""
    env = {
        **os.environ,
        "PYNCHY_HOME": str(home),
        "PYNCHY_RUNTIME": "process",
        "PYNCHY_ALLOW_PROCESS_RUNTIME": "true",
        "PYNCHY_PLUGINS": "",
        "COLUMNS": "400",  # one line per question
    }
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pynchy_cli", "agent", "run", "--model", model, "go"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    output, answered = b"", False
    try:
        for _ in range(2400):  # bounded: a stuck run fails the test instead of hanging it
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the other end is closed
                    break
                if not chunk:
                    break
                output += chunk
                if answer is not None and not answered and b"[y/n]" in output:
                    os.write(master, answer.encode() + b"\r")
                    answered = True
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"agent run did not finish:\n{output.decode(errors='replace')}")
        return proc.wait(timeout=60), output.decode(errors="replace")
    finally:
        os.close(master)


@pytest.mark.parametrize(
    ("answer", "decision", "by", "told"),
    [
        ("y", "approved", "terminal", None),
        ("n", "denied", "terminal", "a person denied it"),
        (None, "expired", "timeout", "no one answered in time"),
    ],
)
def test_terminal(pynchy_home, tmp_path, answer, decision, by, told):
    model, calls = setup_home(pynchy_home, tmp_path, timeout=2)
    code, output = agent_run_on_a_tty(pynchy_home, model, answer)
    assert code == 0, output
    assert "Allow mcp__pol__wipe {}? (mcp__pol__wipe is a destructive tool)" in output
    assert "finished" in output
    assert wipe_audit(pynchy_home)[0] == decision
    assert wipe_audit(pynchy_home)[1]["by"] == by
    assert db_rows(pynchy_home, "select status from approvals") == [(decision,)]
    result = wipe_result(pynchy_home)
    if told is None:
        assert calls.read_text() == "wipe\n" and result["content"] == "wipe done"
    else:
        assert not calls.exists() and told in result["content"]
