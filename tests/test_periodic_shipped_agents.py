"""Shipped periodic agents end to end: `pynchy agent run --periodic NAME` and `pynchy
periodic run NAME` in a podman container, a scripted model calling the agent's host-side
MCP tools on a real repository in the group's workspace, the report in the group."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import require_podman, write_script
from shipped_fixture import FAKE_AWS_KEY, commit_all, git, make_repo

from pynchy_cli.core.periodic.shipped.simplifier import branch_name


def pynchy(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYNCHY_HOME": str(home), "PYNCHY_PLUGINS": ""}
    done = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, f"pynchy {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done


def query(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "pynchy.db") as db:
        return db.execute(sql).fetchall()


def tool_results(home: Path) -> list[dict[str, Any]]:
    runs = json.loads(pynchy(home, "agent", "ps", "--all", "--json").stdout)
    trace = json.loads(pynchy(home, "agent", "trace", runs[0]["id"], "--json").stdout)
    return [e["data"] for e in trace["events"] if e["kind"] == "tool_result"]


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "input": arguments}]}


@pytest.fixture
def workspace(pynchy_home: Path, tmp_path: Path) -> Path:
    require_podman()
    script = tmp_path / "script.json"
    write_script(script, [])
    tables = [
        f'[periodic.{name}]\nenabled = true\nmodel = "scripted:{script}"\n'
        for name in ("security-sweep", "code-simplifier")
    ]
    (pynchy_home / "config.toml").write_text('runtime = "podman"\n\n' + "\n".join(tables))
    pynchy(pynchy_home, "groups", "add", "main", "--admin")
    [(folder,)] = query(pynchy_home, "select folder from groups where name = 'main'")
    return make_repo(Path(folder))


def script_for(home: Path, turns: list[dict[str, Any]]) -> None:
    write_script(home.parent / "script.json", turns)


def test_security_sweep_reports_masked_findings_to_the_group(pynchy_home: Path, workspace: Path):
    report = "Security sweep: a key id at app/settings.py:3 (AKIA********), debug on."
    script_for(
        pynchy_home,
        [call("mcp__security-sweep__scan", repo="/workspace"), {"text": report}],
    )
    pynchy(pynchy_home, "agent", "run", "--periodic", "security-sweep")
    [(runtime, status)] = query(pynchy_home, "select runtime, status from runs")
    assert (runtime, status) == ("podman", "succeeded")
    [result] = tool_results(pynchy_home)
    assert not result["is_error"]
    found = json.loads(result["content"])
    assert "app/settings.py:3" in [f["where"] for f in found["findings"]]
    assert "app/old.cfg:1" in [f["where"] for f in found["findings"]]  # from history
    assert FAKE_AWS_KEY not in result["content"] and str(workspace) not in result["content"]
    [(claim,)] = query(pynchy_home, "select status from periodic_runs")
    assert claim == "ok"
    said = [text for (text,) in query(pynchy_home, "select content from messages")]
    assert report in said  # the report went to the group


def test_simplifier_second_run_skips_unchanged_files(pynchy_home: Path, workspace: Path):
    new = "def is_set(x):\n    return x == True\n"
    script_for(
        pynchy_home,
        [
            call("mcp__code-simplifier__next_files", repo="/workspace", count=5),
            call(
                "mcp__code-simplifier__propose_change",
                repo="/workspace", name="app/util.py", content=new, message="Simplify is_set",
            ),
            call(
                "mcp__code-simplifier__record_audited",
                repo="/workspace", names=["app/settings.py", "app/util.py"],
            ),
            {"text": "Audited 2 files; 1 proposal on the branch."},
        ],
    )  # fmt: skip
    pynchy(pynchy_home, "periodic", "run", "code-simplifier")
    listed, proposed, recorded = tool_results(pynchy_home)
    assert [f["path"] for f in json.loads(listed["content"])["files"]] == [
        "app/settings.py",
        "app/util.py",
    ]
    assert json.loads(proposed["content"])["branch"] == branch_name()
    assert json.loads(recorded["content"])["recorded"] == ["app/settings.py", "app/util.py"]
    assert git(workspace, "show", f"{branch_name()}:app/util.py") == new
    assert git(workspace, "branch", "--show-current").strip() == "main"

    script_for(
        pynchy_home,
        [call("mcp__code-simplifier__next_files", repo="/workspace"), {"text": "nothing new"}],
    )
    pynchy(pynchy_home, "periodic", "run", "code-simplifier")
    [again] = tool_results(pynchy_home)
    assert json.loads(again["content"])["files"] == []  # both unchanged: skipped

    (workspace / "app" / "util.py").write_text(new)
    commit_all(workspace, "take the proposal")
    pynchy(pynchy_home, "periodic", "run", "code-simplifier")
    [third] = tool_results(pynchy_home)
    assert [f["path"] for f in json.loads(third["content"])["files"]] == ["app/util.py"]
