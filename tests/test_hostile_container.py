"""The hostile-container suite: tests/hostile/attack.py runs inside a real podman agent
container, through the agent's own bash tool, and attacks the host (forged and replayed
tokens, another group's name and task ids, malformed, oversized and nested requests,
floods, schedule and rate-limit abuse, skill traversal and symlinks, the socket folder,
root), then plants traps for the group's next run and checks them there. Every attack
must be refused, every refusal recorded in the audit table as the script expects, and
the host must go on serving: the same group's next run, another group's message.

Twice: under `pynchy agent run`, and under a real `pynchy serve` with two groups."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest
from helpers import bash, require_podman, tool_results, write_script
from servehelp import Serve

pytestmark = pytest.mark.podman

HOSTILE = Path(__file__).parent / "hostile"  # attack.py and its modules
SUMMARY = re.compile(r"^hostile: (\d+) attacks, (\d+) refused, (\d+) succeeded$", re.M)
# A profile with small limits, so the script reaches them in a few calls.
CONFIG = """\
[limits]
idle_timeout = 0  # no warm container: each message is a new run with a new token

[profiles.hostile]
max_active_tasks = 2
rate_limits = { send_message = "3/minute" }
"""
SKILL = "---\nname: {name}\ndescription: {name} skill\n---\nThe {name} skill's body.\n"
PHASES = [
    ("save your token", "saved"),
    ("attack", "attacked"),
    ("verify", "verified"),
    ("spam", "spammed"),  # the script's answer comes first; the runner's is refused
]


@pytest.fixture(autouse=True)
def podman():
    require_podman()


def prepare(cli, home: Path, tmp_path: Path, memory_trap: str, hold_for_host: bool) -> str:
    """Two groups: `hostile` (the attacker, its own profile, two skills, the script) and
    `other` (echo, with a task of its own). Returns the attacker's scripted model."""
    (home / "config.toml").write_text(CONFIG)
    # One script for the group's session: each run plays the turns after the last one's.
    turns = [
        {"tool_calls": [bash("printenv PYNCHY_RUN_TOKEN > old-token")]},
        {"text": "saved"},
        {"tool_calls": [bash("python3 /workspace/hostile/attack.py attack", timeout=300)]},
        {"text": "attacked"},
        {"tool_calls": [bash("python3 /workspace/hostile/attack.py verify", timeout=300)]},
        {"text": "verified"},
        {"tool_calls": [bash("python3 /workspace/hostile/attack.py spam", timeout=300)]},
        {"text": "the runner's own answer, refused"},
    ]
    model = write_script(tmp_path / "hostile.json", turns, replay="session")
    for args in (
        ["groups", "add", "hostile", "--profile", "hostile", "--model", model],
        ["groups", "add", "other", "--model", "echo"],
        ["tasks", "add", "the other group's task", "-g", "other", "--every", "1d"],
    ):
        done = cli(*args)
        assert done.exit_code == 0, done.output
    workspace = home / "groups/hostile"
    for name in ("notes", "good"):
        folder = workspace / ".claude/skills" / name
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(SKILL.format(name=name))
    shutil.copytree(HOSTILE, workspace / "hostile", ignore=shutil.ignore_patterns("__pycache__"))
    given = {
        "other_group": "other",
        "other_task": other_task(home)["id"],
        "old_token_file": "old-token",
        "memory_trap": memory_trap,
        "attacked_skill": "notes",
        "good_skill": "good",
        "fifo_skill": "pipe",
        "hold_for_host": hold_for_host,  # keep the hoard until the test creates hoard-done
    }
    (workspace / "hostile-input.json").write_text(json.dumps(given))
    return model


def rows(home: Path, sql: str, *params) -> list[sqlite3.Row]:
    with sqlite3.connect(home / "pynchy.db") as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()


def other_task(home: Path) -> sqlite3.Row:
    [task] = rows(
        home,
        "select tasks.* from tasks join groups on groups.id = group_id where groups.name = 'other'",
    )
    return task


def hostile_runs(home: Path) -> list[sqlite3.Row]:
    return rows(
        home,
        "select runs.* from runs join groups on groups.id = group_id where groups.name = 'hostile'"
        " order by started_at",
    )


def run_events(home: Path, run_id: str) -> list[dict]:
    return [
        {"kind": r["kind"], "data": json.loads(r["data"])}
        for r in rows(
            home, "select kind, data from run_events where run_id = ? order by seq", run_id
        )
    ]


def check_the_attacks(cli, home: Path) -> str:
    """Every attack refused, recorded as the script expected and listed by `pynchy
    audit`; the traps refused in the next run. Returns the summary line."""
    prepared, attacked, verified, spammed = hostile_runs(home)
    assert [r["status"] for r in (prepared, attacked, verified)] == ["succeeded"] * 3
    # The spam run answered once (the script's answer); the runner's own was refused.
    assert (spammed["status"], spammed["result"]) == ("failed", "spammed")
    [output] = [
        r["content"]
        for r in tool_results({"events": run_events(home, spammed["id"])})
        if r["name"] == "bash"
    ]
    summary = SUMMARY.search(output)
    assert summary, output[-3000:]
    lines = [
        json.loads(line)
        for line in (home / "groups/hostile/hostile-results.jsonl").read_text().splitlines()
    ]
    judged = [line for line in lines if "attack" in line]
    assert [line["attack"] for line in judged if not line["refused"]] == []
    assert [line["setup"] for line in lines if "setup" in line and not line["ok"]] == []
    assert tuple(map(int, summary.groups())) == (len(judged), len(judged), 0)
    assert len(judged) >= 80  # the script really went through its list
    assert {line["run"] for line in lines} == {attacked["id"], verified["id"], spammed["id"]}
    assert not rows(home, "select * from audit where run_id = ?", prepared["id"])
    for run in (attacked, verified, spammed):
        check_audit(home, run["id"], [line for line in lines if line["run"] == run["id"]])
    check_audit_cli(cli, home)
    check_traps(home, verified)
    return summary.group(0)


def check_audit(home: Path, run_id: str, lines: list[dict]) -> None:
    """One audit row per gated attempt of the run, exactly as the script expected."""
    expected = Counter()
    for line in lines:
        for action, decision, outcome, count in line["audit"]:
            expected[(action, decision, outcome)] += count
    found = Counter(
        (r["action"], r["decision"], r["outcome"])
        for r in rows(home, "select * from audit where run_id = ?", run_id)
    )
    assert found == expected, f"run {run_id}"


def check_audit_cli(cli, home: Path) -> None:
    """`pynchy audit` lists them, and finds them by decision and tool."""
    listed = json.loads(cli("audit", "--group", "hostile", "--json", "--limit", "100000").stdout)
    assert Counter((r["run_id"], r["action"], r["decision"]) for r in listed) == Counter(
        (r["run_id"], r["action"], r["decision"])
        for r in rows(
            home,
            "select audit.* from audit join groups on groups.id = group_id"
            " where groups.name = 'hostile'",
        )
    )
    limited = json.loads(cli("audit", "--decision", "rate_limited", "--json").stdout)
    assert [(r["action"], r["group_name"]) for r in limited] == [
        ("tool:send_message", "hostile")
    ] * 2
    refused = json.loads(cli("audit", "-t", "schedule_task", "-d", "refused", "--json").stdout)
    reasons = [r["reason"] for r in refused]
    assert sum("agents of this group may schedule at most every 5m" in r for r in reasons) == 3
    assert sum("already has 2 active tasks (at most 2)" in r for r in reasons) == 1
    # Nothing of another group's was touched; the attacker has its two tasks, no more.
    assert other_task(home)["status"] == "active"
    agents = rows(home, "select status from tasks where created_by = 'agent'")
    assert [t["status"] for t in agents] == ["active", "active"]


def check_traps(home: Path, verified: sqlite3.Row) -> None:
    """The run after the traps was warned of each, and its prompt holds nothing of them."""
    warnings = [
        e["data"]["message"]
        for e in run_events(home, verified["id"])
        if e["kind"] == "error" and e["data"].get("warning")
    ]
    assert len(warnings) == 3, warnings
    assert any("CLAUDE.md" in w for w in warnings)
    assert sum("skill skipped" in w for w in warnings) == 2
    system = verified["system_prompt"]
    assert "PATH=" not in system and "root:" not in system and "<group_memory>" not in system


def test_hostile_container_under_agent_run(cli, tmp_path, pynchy_home, monkeypatch, caplog):
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")
    prepare(cli, pynchy_home, tmp_path, memory_trap="environ", hold_for_host=False)
    for prompt, answer in PHASES:
        result = cli("agent", "run", "-g", "hostile", prompt)
        assert (result.exit_code == 0) == (prompt != "spam"), result.output
        assert answer in result.stdout or prompt == "spam"  # its answer is the run's result
    print(check_the_attacks(cli, pynchy_home))
    # The host still serves: another group's run answers; nothing failed unhandled.
    other = cli("agent", "run", "-g", "other", "still there?")
    assert other.exit_code == 0 and "echo: still there?" in other.stdout
    assert not list((pynchy_home / "runs").iterdir())  # no run folder or socket left behind
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


class PodmanServe(Serve):
    """`pynchy serve` whose agents run in podman containers (each group names its model),
    started with at most 1024 open files, as systemd starts a service by default."""

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("--runtime") + 1] = "podman"
        limit = (
            "import os, resource, sys; hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1];"
            " resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard));"
            " os.execv(sys.argv[1], sys.argv[1:])"
        )
        return [sys.executable, "-c", limit, *command]


def test_hostile_container_under_serve(cli, tmp_path, pynchy_home):
    prepare(cli, pynchy_home, tmp_path, memory_trap="shadow", hold_for_host=True)
    workspace = pynchy_home / "groups/hostile"
    serve = PodmanServe(pynchy_home, model=None).start()
    try:

        def answered(group: str, text: str, count: int = 1):
            return lambda: (
                count
                <= sum(
                    m["content"].startswith(text) and m["sender_kind"] == "assistant"
                    for m in serve.messages(group)
                )
            )

        def the_other_group_answers(count: int) -> None:
            serve.send("other", "@Pynchy still there?")
            serve.wait_for(answered("other", "echo: [", count), "the other group's answer", 2400)
            assert serve.get("/health", auth=False)["ok"] is True

        for prompt, answer in PHASES:
            serve.send("hostile", f"@Pynchy {prompt}")
            if prompt == "attack":  # while the container holds its connections
                serve.wait_for((workspace / "hoarding").exists, "the hoard", 2400)
                the_other_group_answers(1)
                (workspace / "hoard-done").touch()
            serve.wait_for(answered("hostile", answer), f"the hostile group's {answer!r}", 2400)
        the_other_group_answers(2)
        sent = [m["content"] for m in serve.messages("hostile") if m["sender_kind"] == "assistant"]
        assert [t for t in sent if t.startswith("hostile test message")] == [
            f"hostile test message {i}" for i in range(3)
        ]  # within the rate limit, delivered; past it, not
        assert [t for t in sent if t.startswith("spam")] == ["spammed"]  # one answer
    finally:
        serve.terminate()
    print(check_the_attacks(cli, pynchy_home))
    assert "Traceback" not in serve.log.read_text()  # nothing failed unhandled
