"""The host never follows a container's symlinks: core.workspace_files on real files, and
agent runs (process runtime, `pynchy serve`) whose workspace holds symlinks to
/proc/self/environ, to config.toml and out through `../`, a FIFO and a huge memory file.

The runs are `pynchy` subprocesses started with fake keys in their environment, so their
/proc/self/environ really holds the keys that a followed symlink would leak."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import call, files_holding, tool_results, write_script
from servehelp import Serve

from pynchy_cli.core.workspace_files import (
    OUTSIDE,
    SYMLINK,
    UnsafePath,
    list_files,
    list_folder,
    read_file,
    write_file,
)

ANTHROPIC_KEY = "sk-ant-test-" + secrets.token_urlsafe(32)
OPENAI_KEY = "sk-proj-test-" + secrets.token_urlsafe(32)
CONFIG_KEY = "sk-ant-cfg-" + secrets.token_urlsafe(32)
KEYS = [ANTHROPIC_KEY, OPENAI_KEY, CONFIG_KEY]
KEY_ENV = {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "OPENAI_API_KEY": OPENAI_KEY}


# --- the helper, on real files ------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.md").write_text("hello")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("HOST-SECRET")
    return folder


def refusal(root: Path, rel: str) -> UnsafePath:
    with pytest.raises(UnsafePath) as err:
        read_file(root, rel, max_bytes=1000)
    return err.value


def test_reads_regular_files_up_to_the_cap(ws):
    assert read_file(ws, "notes.md", max_bytes=100).data == b"hello"
    cut = read_file(ws, "notes.md", max_bytes=3)
    assert (cut.data, cut.cut) == (b"hel", True)
    assert read_file(ws, "./notes.md", max_bytes=5).cut is False
    with pytest.raises(FileNotFoundError):
        read_file(ws, "missing.md", max_bytes=10)
    with pytest.raises(FileNotFoundError):
        read_file(ws, "no/such/folder.md", max_bytes=10)


def test_symlinks_anywhere_on_the_path_are_refused(ws, outside):
    (ws / "env.md").symlink_to("/proc/self/environ")
    (ws / "escape.md").symlink_to("../outside/secret.txt")
    (ws / "inside.md").symlink_to("notes.md")  # even one that stays inside
    (ws / ".claude").symlink_to(outside)
    (ws / "real").mkdir()
    (ws / "real" / "deeper").symlink_to(outside)
    for rel in ("env.md", "escape.md", "inside.md"):
        exc = refusal(ws, rel)
        assert (exc.path, exc.problem) == (rel, SYMLINK)
        assert str(exc) == f"{rel} is a symlink"  # names the path, never the target
    assert str(refusal(ws, ".claude/secret.txt")) == ".claude is a symlink"
    assert str(refusal(ws, "real/deeper/secret.txt")) == "real/deeper is a symlink"
    for rel in ("../outside/secret.txt", "real/../../outside/secret.txt", "/etc/passwd"):
        assert refusal(ws, rel).problem == OUTSIDE


def test_fifos_sockets_devices_and_folders_are_not_read(ws):
    os.mkfifo(ws / "CLAUDE.md")  # no writer: opening it blocking would hang the host
    assert "FIFO" in str(refusal(ws, "CLAUDE.md"))
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(ws / "sock"))
    assert "socket" in str(refusal(ws, "sock"))
    server.close()
    (ws / "dir").mkdir()
    assert str(refusal(ws, "dir")) == "dir is a folder"
    try:
        os.mknod(ws / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        return  # not allowed to make device nodes here
    assert "device" in str(refusal(ws, "null"))


def test_writes_replace_a_planted_symlink_and_never_write_through_one(ws, outside):
    secret = outside / "secret.txt"
    (ws / "CLAUDE.md").symlink_to(secret)
    assert write_file(ws, "CLAUDE.md", "new memory") is True
    assert not (ws / "CLAUDE.md").is_symlink()
    assert (ws / "CLAUDE.md").read_text() == "new memory"
    assert secret.read_text() == "HOST-SECRET"
    # create-only: a dangling symlink counts as taken and its target is not created
    (ws / "other.md").symlink_to(outside / "created.txt")
    assert write_file(ws, "other.md", "x", replace=False) is False
    assert not (outside / "created.txt").exists()
    assert write_file(ws, "fresh.md", "x", replace=False) is True
    assert write_file(ws, "fresh.md", "y", replace=False) is False
    assert (ws / "fresh.md").read_text() == "x"
    # a symlinked folder on the way is refused, also when folders are made
    (ws / "link").symlink_to(outside)
    with pytest.raises(UnsafePath, match="^link is a symlink$"):
        write_file(ws, "link/planted.txt", "x")
    with pytest.raises(UnsafePath):
        write_file(ws, "link/sub/planted.txt", "x", make_folders=True)
    write_file(ws, "made/sub/file.txt", "ok", make_folders=True)
    assert (ws / "made/sub/file.txt").read_text() == "ok"
    with pytest.raises(UnsafePath):
        write_file(ws, "../outside/secret.txt", "x")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not [p for p in ws.iterdir() if p.name.endswith(".tmp")]


def test_listing_reports_symlinks_without_following_them(ws, outside):
    (ws / "skills" / "a").mkdir(parents=True)
    (ws / "skills" / "a" / "SKILL.md").write_text("x")
    (ws / "skills" / "a" / "ref.md").write_text("x")
    (ws / "skills" / "a" / "env.md").symlink_to("/proc/self/environ")
    (ws / "skills" / "a" / "out").symlink_to(outside)
    (ws / "skills" / "a" / "__pycache__").mkdir()
    (ws / "skills" / "a" / "__pycache__" / "x.pyc").write_text("x")
    (ws / "skills" / "b").symlink_to(outside)
    kinds = {e.name: e.kind for e in list_folder(ws, "skills")}
    assert kinds == {"a": "folder", "b": "symlink"}
    files, more = list_files(ws, "skills/a", skip=frozenset({"__pycache__"}))
    assert (files, more) == (["SKILL.md", "ref.md"], False)
    assert list_files(ws, "skills/a", limit=1) == (["SKILL.md"], True)
    with pytest.raises(UnsafePath):
        list_folder(ws, "skills/b")


def test_groups_never_write_through_or_delete_through_symlinks(cli, pynchy_home, outside):
    folder = pynchy_home / "groups" / "old"  # a workspace a container wrote, added again
    folder.mkdir(parents=True)
    (folder / "CLAUDE.md").symlink_to(outside / "planted.md")  # dangling: exists() is False
    (folder / "to-outside").symlink_to(outside)
    (folder / "file-link").symlink_to(outside / "secret.txt")
    assert cli("groups", "add", "old").exit_code == 0
    assert not (outside / "planted.md").exists()
    # rmtree is fd-based here: it unlinks symlinks inside and follows none of them
    assert shutil.rmtree.avoids_symlink_attacks
    assert cli("groups", "remove", "old", "--delete-files").exit_code == 0
    assert not folder.exists()
    assert (outside / "secret.txt").read_text() == "HOST-SECRET"


# --- real runs: nothing of a key reaches a prompt, transcript, log or file -------------------


def write_account_config(home: Path) -> Path:
    config = home / "config.toml"
    config.write_text(f'[accounts.work]\nprovider = "anthropic"\napi_key = "{CONFIG_KEY}"\n')
    return config


def pynchy(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`pynchy` in a subprocess whose environment holds the fake keys."""
    env = {
        **os.environ,
        **KEY_ENV,
        "PYNCHY_HOME": str(home),
        "PYNCHY_RUNTIME": "process",
        "PYNCHY_ALLOW_PROCESS_RUNTIME": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard (a FIFO read blocking), not a timing assertion
    )


def last_trace(cli, home: Path) -> tuple[dict, str]:
    """(trace, its JSON text as `pynchy agent trace --json` prints it)."""
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    text = cli("agent", "trace", runs[0]["id"], "--json").stdout
    return json.loads(text), text


def warnings_of(trace: dict) -> list[str]:
    return [e["data"]["message"] for e in trace["events"] if e["data"].get("warning")]


def assert_no_key_anywhere(home: Path, config: Path, *texts: str) -> None:
    for text in texts:
        assert not any(k in text or k[-16:] in text for k in KEYS)
    assert files_holding(home, KEYS, skip=(config,)) == []


def plant_memory(group: Path, kind: str, config: Path) -> None:
    memory = group / "CLAUDE.md"
    memory.unlink()
    if kind == "environ":
        memory.symlink_to("/proc/self/environ")
    elif kind == "config":
        memory.symlink_to(config)
    elif kind == "escape":
        memory.symlink_to("../../config.toml")
        assert memory.read_text() == config.read_text()  # it does lead to the config
    elif kind == "fifo":
        os.mkfifo(memory)
    elif kind == "huge":  # 1 GB, sparse: only the cap is ever read
        memory.write_text("# Memory\nBIG-MEMORY-START\n")
        os.truncate(memory, 1 << 30)


@pytest.mark.parametrize("kind", ["environ", "config", "escape", "fifo", "huge"])
def test_a_planted_memory_file_leaks_nothing(cli, tmp_path, pynchy_home, kind):
    config = write_account_config(pynchy_home)
    assert cli("groups", "add", "main", "--admin").exit_code == 0
    group = pynchy_home / "groups" / "main"
    plant_memory(group, kind, config)
    model = write_script(tmp_path / "s.json", [{"text": "remembered nothing"}])
    out = pynchy(pynchy_home, "agent", "run", "--model", model, "what do you remember?")
    assert out.returncode == 0, out.stderr
    assert "remembered nothing" in out.stdout
    trace, text = last_trace(cli, pynchy_home)
    prompt = trace["run"]["system_prompt"]
    assert "<group_memory>" not in prompt or kind == "huge"
    if kind == "huge":
        assert "BIG-MEMORY-START" in prompt and "[... memory cut]" in prompt
        assert len(prompt) < 30_000
    else:
        expected = "memory file CLAUDE.md is a " + ("FIFO" if kind == "fifo" else "symlink")
        assert any(w.startswith(expected) and w.endswith(": ignored") for w in warnings_of(trace))
        with sqlite3.connect(pynchy_home / "pynchy.db") as db:
            audited = [
                r[0] for r in db.execute("select detail from audit where decision='warning'")
            ]
        assert any(expected in a for a in audited)
    assert_no_key_anywhere(pynchy_home, config, text, out.stdout, out.stderr)


def make_skill(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {body}\n---\n{body}\n")


def test_planted_skills_leak_nothing(cli, tmp_path, pynchy_home):
    config = write_account_config(pynchy_home)
    host_skills = tmp_path / "host-skills"
    make_skill(host_skills / "skills" / "leak", "leak", f"HOST-ONLY {CONFIG_KEY}")
    for name in ("main", "other"):
        assert cli("groups", "add", name, "--admin").exit_code == 0
    skills = pynchy_home / "groups" / "main" / ".claude" / "skills"
    make_skill(skills / "ok", "ok", "A fine skill.")
    (skills / "ok" / "env.md").symlink_to("/proc/self/environ")
    (skills / "ok" / "cfg.md").symlink_to(config)
    (skills / "ok" / "sub").symlink_to(host_skills / "skills" / "leak")
    (skills / "environ").mkdir()
    (skills / "environ" / "SKILL.md").symlink_to("/proc/self/environ")
    (skills / "folder-link").symlink_to(host_skills / "skills" / "leak")
    (pynchy_home / "groups" / "other" / ".claude").symlink_to(host_skills)
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("read_skill", name="ok"),
                    call("read_skill", name="ok", file="env.md"),
                    call("read_skill", name="ok", file="cfg.md"),
                    call("read_skill", name="ok", file="sub/SKILL.md"),
                    call("read_skill", name="ok", file="../../../../config.toml"),
                    call("read_skill", name="ok", file="/proc/self/environ"),
                ]
            },
            {"text": "read"},
        ],
    )
    out = pynchy(pynchy_home, "agent", "run", "--model", model, "read the skills")
    assert out.returncode == 0, out.stderr
    trace, text = last_trace(cli, pynchy_home)
    assert "- ok: A fine skill." in trace["run"]["system_prompt"]
    results = [r["content"] for r in tool_results(trace)]
    assert results[0].startswith("A fine skill.") and "- " not in results[0]  # no files listed
    assert results[1] == "refused: .claude/skills/ok/env.md is a symlink"
    assert results[2] == "refused: .claude/skills/ok/cfg.md is a symlink"
    assert results[3] == "refused: .claude/skills/ok/sub is a symlink"
    assert "outside the skill" in results[4] and "outside the skill" in results[5]
    warnings = warnings_of(trace)
    assert "skill skipped: .claude/skills/environ/SKILL.md is a symlink" in warnings
    assert "skill skipped: .claude/skills/folder-link is a symlink" in warnings
    model2 = write_script(tmp_path / "s2.json", [{"text": "none"}])
    out2 = pynchy(pynchy_home, "agent", "run", "-g", "other", "--model", model2, "skills?")
    assert out2.returncode == 0, out2.stderr
    trace2, text2 = last_trace(cli, pynchy_home)
    assert "HOST-ONLY" not in trace2["run"]["system_prompt"]
    assert "skills skipped: .claude is a symlink" in warnings_of(trace2)
    assert_no_key_anywhere(pynchy_home, config, text, text2, out.stdout, out.stderr, out2.stderr)
    assert files_holding(pynchy_home, ["HOST-ONLY"], skip=(config,)) == []


def test_serve_logs_the_refusal_and_nothing_of_the_key(cli, pynchy_home):
    config = write_account_config(pynchy_home)
    serve = Serve(pynchy_home, env=KEY_ENV).start()
    try:
        memory = pynchy_home / "groups" / "main" / "CLAUDE.md"
        memory.unlink()
        memory.symlink_to("/proc/self/environ")  # serve's own environment holds the keys
        serve.send("main", "hello")
        serve.wait_for(
            lambda: [m for m in serve.messages("main") if m["sender_kind"] == "assistant"],
            "a reply",
        )
    finally:
        assert serve.terminate() == 0
    logs = serve.log.read_text() + (pynchy_home / "logs" / "serve.log").read_text()
    assert "memory file CLAUDE.md is a symlink: ignored" in logs
    trace, text = last_trace(cli, pynchy_home)
    assert "memory file CLAUDE.md is a symlink: ignored" in warnings_of(trace)
    assert_no_key_anywhere(pynchy_home, config, text, logs)
