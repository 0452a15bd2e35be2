"""Approvals: a tool of the external tier waits for a person's `approve ID` / `deny ID` on
the group's channel; no answer in time means deny; every decision is recorded."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path

from helpers import write_script
from servehelp import Serve

NOTES_SERVER = Path(__file__).parent / "fakes" / "mcp_notes_server.py"


def setup_home(home: Path, tmp_path: Path, timeout: int = 120) -> tuple[str, Path]:
    notes = tmp_path / "notes.txt"
    (home / "config.toml").write_text(
        f"[limits]\napproval_timeout = {timeout}\n\n"
        f'[mcp.notes]\ncommand = ["{sys.executable}", "{NOTES_SERVER}"]\nrisk = "external"\n'
        f'env = {{ NOTES_FILE = "{notes}" }}\n'
    )
    model = write_script(
        tmp_path / "s.json",
        [
            {"tool_calls": [{"name": "mcp__notes__record", "input": {"text": "ship it"}}]},
            {"text": "finished"},
        ],
    )
    return model, notes


def pending_id(serve: Serve) -> str:
    def find():
        for m in serve.messages("main"):
            found = re.search(r"Reply 'approve (\w+)'", m["content"])
            if m["sender_kind"] == "host" and found:
                return found.group(1)
        return None

    return serve.wait_for(find, "the approval request")


def test_approved_call_runs(pynchy_home, tmp_path):
    model, notes = setup_home(pynchy_home, tmp_path)
    serve = Serve(pynchy_home, model=model).start()
    try:
        serve.send("main", "please record")
        approval = pending_id(serve)
        assert not notes.exists()  # nothing ran before a person said yes
        answer = serve.send("main", f"approve {approval}", sender="bob")
        assert answer["queued"] is False
        serve.wait_for(
            lambda: any(m["content"] == "finished" for m in serve.messages("main")),
            "the run to finish",
        )
        assert notes.read_text() == "ship it\n"
    finally:
        serve.kill9()
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        row = db.execute("select status, decided_by from approvals").fetchone()
        prompts = [r[0] for r in db.execute("select prompt from runs")]
    assert row == ("approved", "bob")
    assert all("approve" not in p for p in prompts)  # the answer never reached a prompt


def test_denied_and_expired_calls_do_not_run(pynchy_home, tmp_path):
    model, notes = setup_home(pynchy_home, tmp_path, timeout=1)
    serve = Serve(pynchy_home, model=model).start()
    try:
        serve.send("main", "please record")
        serve.wait_for(
            lambda: any(m["content"] == "finished" for m in serve.messages("main")),
            "the run to finish after the approval expired",
        )
    finally:
        serve.kill9()
    assert not notes.exists()
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        status = db.execute("select status from approvals").fetchone()[0]
        audit = [
            json.loads(r[0])
            for r in db.execute("select detail from audit where action = 'tool:mcp__notes__record'")
        ]
    assert status == "expired"
    assert audit and audit[-1]["reason"] == "not approved"


def test_agent_run_without_a_terminal_denies(cli, pynchy_home, tmp_path, monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")
    model, notes = setup_home(pynchy_home, tmp_path)
    result = cli("agent", "run", "--model", model, "record it")
    assert result.exit_code == 0, result.output
    assert not notes.exists()
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        row = db.execute("select status, decided_by from approvals").fetchone()
    assert row == ("denied", "no terminal")
