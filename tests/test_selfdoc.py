"""The shipped hooks `selfdoc` (docs hold only commands that ran successfully in the run)
and `ruff` (no `ruff check` without --fix), in real agent runs driven by scripted models:
the process runtime, and one podman container."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers import bash, call, last_trace, require_podman, tool_results, write_script

from pynchy_cli.core.plugins import doc_commands
from pynchy_cli.core.plugins.ruff_hook import REFUSAL

MARK = doc_commands.UNVERIFIED_MARK


@pytest.fixture(autouse=True)
def builtin_plugins_only(monkeypatch):
    """No installed plugin's hooks (the dev environment may hold some): pynchy's own."""
    monkeypatch.setenv("PYNCHY_PLUGINS", "")


@pytest.fixture
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def run(cli, tmp_path: Path, calls: list[dict], *args: str) -> dict:
    model = write_script(tmp_path / "s.json", [{"tool_calls": calls}, {"text": "done"}])
    result = cli("agent", "run", "--model", model, *args, "document it")
    assert result.exit_code == 0, result.output
    return last_trace(cli)


def doc(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_refuses_unverified_commands_and_accepts_verified_ones(
    cli, tmp_path, pynchy_home, process_runtime
) -> None:
    (pynchy_home / "config.toml").write_text('[plugin.selfdoc]\ngroups = ["main"]\n')
    group = pynchy_home / "groups" / "main"
    verified = doc("# Greeting", "", "```sh", "echo hello   # says hello", "```")
    calls = [
        bash("echo hello"),
        bash("mkdir -p build && touch build/ok"),
        bash("exit 3"),
        call("write_file", path="docs/greeting.md", content=verified),
        call(
            "write_file",
            path=".claude/skills/deploy/SKILL.md",
            content=doc("---", "name: deploy", "---", "```bash", "make deploy", "```"),
        ),
        call(
            "write_file",
            path="docs/build.md",
            content=doc("```console", "$ touch build/ok", "touched", "$ exit 3", "```"),
        ),
        call("write_file", path="notes.md", content=doc("```sh", "never run", "```")),
        call(
            "edit_file",
            path="CLAUDE.md",
            old_text="# main",
            new_text=doc("# main", "", "```sh", "rm -rf /tmp/never", "```").rstrip(),
        ),
        call(
            "write_file",
            path="docs/later.md",
            content=doc(MARK, "```sh", "make release", "```"),
        ),
    ]
    trace = run(cli, tmp_path, calls)
    results = tool_results(trace)[3:]

    assert not results[0]["is_error"]  # a verified block: written
    assert (group / "docs" / "greeting.md").read_text() == verified

    assert results[1]["is_error"]
    assert (
        ".claude/skills/deploy/SKILL.md documents commands that did not run successfully "
        "in this session: `make deploy` (not run in this session)"
    ) in results[1]["content"]
    assert not (group / ".claude" / "skills" / "deploy").exists()

    assert results[2]["is_error"]  # one part of an && chain that worked is fine; exit 3 is not
    assert "`exit 3` (exited 3)" in results[2]["content"]
    assert "touch build/ok" not in results[2]["content"]

    assert not results[3]["is_error"]  # not a doc file: not checked
    assert results[4]["is_error"] and "`rm -rf /tmp/never`" in results[4]["content"]
    assert "never" not in (group / "CLAUDE.md").read_text()
    assert not results[5]["is_error"]  # a block that says it was not run

    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        refused = db.execute(
            "select action from audit where decision = 'refused' order by id"
        ).fetchall()
    assert [r[0] for r in refused] == ["tool:write_file", "tool:write_file", "tool:edit_file"]


def test_only_in_the_groups_named(cli, tmp_path, pynchy_home, process_runtime) -> None:
    (pynchy_home / "config.toml").write_text('[plugin.selfdoc]\ngroups = ["main"]\n')
    assert cli("groups", "add", "other").exit_code == 0
    content = doc("```sh", "never run", "```")
    trace = run(
        cli, tmp_path, [call("write_file", path="docs/x.md", content=content)], "-g", "other"
    )
    assert not tool_results(trace)[0]["is_error"]
    assert (pynchy_home / "groups" / "other" / "docs" / "x.md").read_text() == content
    assert trace["run"]["system_prompt"]  # ran; and no local tool was checked:
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        assert (
            db.execute("select count(*) from audit where action like 'tool:%'").fetchone()[0] == 0
        )


def test_mark_mode_marks_unverified_blocks(cli, tmp_path, pynchy_home, process_runtime) -> None:
    (pynchy_home / "config.toml").write_text('[plugin.selfdoc]\ngroups = ["*"]\nmode = "mark"\n')
    group = pynchy_home / "groups" / "main"
    calls = [
        bash("echo ok"),
        call(
            "write_file",
            path="docs/a.md",
            content=doc("```sh", "echo ok", "```", "", "  ```bash", "  make it", "  ```"),
        ),
        call(
            "edit_file",
            path="docs/a.md",
            old_text="make it",
            new_text="make it\n  make more",
        ),
    ]
    trace = run(cli, tmp_path, calls)
    assert not any(r["is_error"] for r in tool_results(trace)), tool_results(trace)
    text = (group / "docs" / "a.md").read_text()
    assert text == doc(
        "```sh", "echo ok", "```", "", f"  {MARK}", "  ```bash", "  make it", "  make more", "  ```"
    )  # marked once, by the write; the edit's new command sits in an already marked block
    changed = [e for e in trace["events"] if e["kind"] == "tool_result"]
    assert len(changed) == 3


def test_ruff_check_without_fix_is_refused(cli, tmp_path, pynchy_home, process_runtime) -> None:
    (pynchy_home / "config.toml").write_text('[plugin.ruff]\ngroups = ["*"]\n')
    calls = [
        bash("ruff check ."),
        bash(".venv/bin/ruff check src && echo done"),
        bash("ruff check --fix . ; ruff format . ; echo passed"),
    ]
    results = tool_results(run(cli, tmp_path, calls))
    assert results[0] == {
        "tool_use_id": results[0]["tool_use_id"],
        "name": "bash",
        "content": f"refused by the host: plugin ruff: {REFUSAL}",
        "is_error": True,
    }
    assert results[1]["is_error"] and REFUSAL in results[1]["content"]
    assert not results[2]["is_error"] and "passed" in results[2]["content"]


@pytest.mark.podman
def test_selfdoc_in_a_podman_container(cli, tmp_path, pynchy_home) -> None:
    require_podman()
    (pynchy_home / "config.toml").write_text(
        '[plugin.selfdoc]\ngroups = ["main"]\n[plugin.ruff]\ngroups = ["main"]\n'
    )
    group = pynchy_home / "groups" / "main"
    verified = doc("```sh", "python3 --version", "```")
    calls = [
        bash("python3 --version"),
        call("write_file", path="/workspace/docs/python.md", content=verified),
        call("write_file", path="docs/other.md", content=doc("```sh", "pip install x", "```")),
        bash("ruff check ."),
    ]
    trace = run(cli, tmp_path, calls, "--runtime", "podman")
    assert trace["run"]["runtime"] == "podman"
    results = tool_results(trace)
    assert not results[1]["is_error"]
    assert (group / "docs" / "python.md").read_text() == verified
    assert results[2]["is_error"] and "`pip install x` (not run" in results[2]["content"]
    assert not (group / "docs" / "other.md").exists()
    assert results[3]["is_error"] and REFUSAL in results[3]["content"]


# --- the parsing, on its own ----------------------------------------------------------------


def test_commands_in_blocks_prompts_and_continuations() -> None:
    text = doc(
        "```python",
        "print('not shell')",
        "```",
        "~~~bash",
        "# a comment",
        "pytest -q \\",
        "  tests/x.py",
        "~~~",
        "```console",
        "$ ls",
        "a.txt",
        "```",
    )
    blocks = doc_commands.shell_blocks(text)
    assert [b.commands for b in blocks] == [("pytest -q tests/x.py",), ("ls",)]
    shown = doc_commands.shown_to_work("cd /w && pytest -q tests/x.py")
    assert ("pytest", "-q", "tests/x.py") in shown and ("cd", "/w") in shown
    assert ("b",) not in doc_commands.shown_to_work("a || b")
    assert doc_commands.shown_to_work("false\ntrue") >= {("true",)}
    assert ("false",) not in doc_commands.shown_to_work("false\ntrue")
    assert ("make", "a") in doc_commands.shown_to_work("set -e\nmake a\nmake b")
