"""A group's memory as an index (CLAUDE.md) plus skills: the once-per-group migration keeps
every line, the skills it makes are read through read_skill in a real run, and the system
prompt tells the agent how to keep the layout."""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from helpers import last_trace, tool_results, write_script

from pynchy_cli.core.memory_layout import (
    INDEX_MAX_LINES,
    SECTION_MIN_LINES,
    organise,
    split_memory,
)
from pynchy_cli.core.plugins.skills import find_skills, read_skill


def section(title: str, lines: int, tag: str) -> list[str]:
    return [f"## {title}", *(f"- {tag} fact {n}" for n in range(lines - 1))]


def long_memory() -> str:
    lines = [
        "# main",
        "",
        "The owner is Ann; answer in English.",
        "",
        *section("Family birthdays", 12, "birthday"),
        "",
        *section("Short", 3, "short"),  # small: stays in the index
        "",
        "## Server setup",
        "How the home server is set up:",
        "```sh",
        "## not a heading: inside a code block",
        "apt-get install podman",
        "```",
        *(f"- server step {n}" for n in range(10)),
        *section("Reading list", 30, "book"),
        *section("Reading list", 9, "second list"),  # same title: another skill name
        "",
        "Last line, after every section.",
    ]
    return "\n".join(lines) + "\n"


def skill_body(text: str) -> list[str]:
    """A made SKILL.md's lines after its front matter."""
    lines = text.splitlines()
    assert lines[0] == "---" and lines[3] == "---", lines[:4]
    return lines[4:]


def test_split_keeps_every_line_exactly_once(tmp_path: Path) -> None:
    text = long_memory()
    assert len(text.splitlines()) > INDEX_MAX_LINES
    split = split_memory(text, taken={"reading-list"})  # a skill of that name exists
    assert split is not None
    assert set(split.skills) == {
        "family-birthdays",
        "server-setup",
        "reading-list-2",
        "reading-list-3",
    }
    index = split.index.splitlines()
    pointers = [line for line in index if "(read_skill " in line]
    assert pointers == [
        "- Family birthdays: skill `family-birthdays` (read_skill family-birthdays)",
        "- Server setup: skill `server-setup` (read_skill server-setup)",
        "- Reading list: skill `reading-list-2` (read_skill reading-list-2)",
        "- Reading list: skill `reading-list-3` (read_skill reading-list-3)",
    ]
    kept = Counter(line for line in index if line not in pointers)
    moved = Counter(line for s in split.skills.values() for line in skill_body(s))
    assert kept + moved == Counter(text.splitlines())  # every line, once
    assert "Last line, after every section." in split.skills["reading-list-3"]  # its section's
    assert len(index) <= INDEX_MAX_LINES
    assert "## not a heading: inside a code block" in split.skills["server-setup"]
    assert "## Short" in index and 3 < SECTION_MIN_LINES <= 9  # the thresholds this relies on


def test_organise_writes_skills_that_read_skill_serves(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "CLAUDE.md").write_text(long_memory())
    made = organise(folder)
    assert made == ["family-birthdays", "server-setup", "reading-list", "reading-list-2"]
    skills, warnings = find_skills([], None, folder)
    assert not warnings and set(skills) == set(made)
    assert skills["family-birthdays"].description == "Family birthdays: birthday fact 0"
    body, is_error = read_skill(skills, "family-birthdays")
    assert not is_error and body.startswith("## Family birthdays\n- birthday fact 0")
    assert organise(folder) == []  # the index is short now: nothing more to do
    small = tmp_path / "small"
    small.mkdir()
    (small / "CLAUDE.md").write_text("# small\n\n" + "\n".join(section("A", 20, "a")) + "\n")
    assert organise(small) == []  # not long: left whole


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_what_the_host_made_belongs_to_the_workspaces_owner(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "CLAUDE.md").write_text(long_memory())
    os.chown(folder, 10001, 10001)
    made = organise(folder)
    for path in [
        folder / "CLAUDE.md",
        folder / ".claude",
        folder / ".claude" / "skills" / made[0],
        folder / ".claude" / "skills" / made[0] / "SKILL.md",
    ]:
        assert (path.stat().st_uid, path.stat().st_gid) == (10001, 10001), path


@pytest.fixture
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def test_first_run_migrates_once_and_the_agent_reads_the_skill(
    cli, tmp_path, pynchy_home, process_runtime
) -> None:
    assert cli("groups", "add", "family").exit_code == 0
    group = pynchy_home / "groups" / "family"
    (group / "CLAUDE.md").write_text(long_memory())
    elsewhere = tmp_path / "repo"
    elsewhere.mkdir()
    (elsewhere / "CLAUDE.md").write_text(long_memory())
    assert cli("groups", "add", "repo", "--folder", str(elsewhere)).exit_code == 0
    model = write_script(
        tmp_path / "s.json",
        [
            {"tool_calls": [{"name": "read_skill", "input": {"name": "family-birthdays"}}]},
            {"text": "done"},
        ],
    )

    assert cli("agent", "run", "-g", "family", "--model", model, "birthdays?").exit_code == 0
    trace = last_trace(cli)
    [answer] = tool_results(trace)
    assert not answer["is_error"] and "birthday fact 10" in answer["content"]
    prompt = trace["run"]["system_prompt"]
    assert "- family-birthdays: Family birthdays: birthday fact 0" in prompt  # listed
    assert "birthday fact 5" not in prompt  # read on demand, not in every prompt
    assert "The owner is Ann" in prompt  # the index is
    assert "Keep it under 60 lines" in prompt and "To add a skill, write that file" in prompt
    notes = [e["data"]["message"] for e in trace["events"] if e["kind"] == "error"]
    assert any("moved, whole, into the skills family-birthdays" in n for n in notes), notes

    index = (group / "CLAUDE.md").read_text()
    (group / "CLAUDE.md").write_text(index + "\n".join(section("Grown again", 70, "x")) + "\n")
    assert cli("agent", "run", "-g", "family", "--model", "echo", "hi").exit_code == 0
    trace = last_trace(cli)  # once per group: the agent's own growth is its to tidy
    assert not (group / ".claude" / "skills" / "grown-again").exists()
    assert "more than 60: move details out of it into skills" in trace["run"]["system_prompt"]

    assert cli("agent", "run", "-g", "repo", "--model", "echo", "hi").exit_code == 0
    assert (elsewhere / "CLAUDE.md").read_text() == long_memory()  # a person's folder
    assert not (elsewhere / ".claude").exists()
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        rows = db.execute(
            "select g.name, m.moved from memory_layout m join groups g on g.id = m.group_id"
        ).fetchall()
    assert {name: json.loads(moved) for name, moved in rows} == {
        "family": ["family-birthdays", "server-setup", "reading-list", "reading-list-2"],
        "repo": [],
    }


def test_this_repositorys_own_agent_instructions_follow_the_layout() -> None:
    root = Path(__file__).resolve().parents[1]
    skills, warnings = find_skills([], None, root)
    assert not warnings and {"pynchy-dev", "pynchy-security", "pynchy-docs"} <= set(skills)
    index = (root / "CLAUDE.md").read_text()
    assert len(index.splitlines()) <= INDEX_MAX_LINES
    for name, skill in skills.items():
        assert f"`{name}`" in index, f"CLAUDE.md does not list the skill {name}"
        assert skill.description != "(no description)", name
