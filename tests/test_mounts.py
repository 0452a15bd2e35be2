"""Extra mounts come only from the user's allowlist; credentials folders never."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from helpers import bash, tool_results, write_script

from pynchy_cli.core.errors import ExitCode
from pynchy_cli.core.runtimes.detect import socket_answers

REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"


@pytest.fixture
def shared(tmp_path, pynchy_home, monkeypatch):
    """A fake home with ~/.ssh, a project folder, and an allowlist for the project."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY")
    project = home / "projects" / "notes"
    project.mkdir(parents=True)
    (project / "todo.txt").write_text("buy milk\n")
    monkeypatch.setenv("HOME", str(home))
    (pynchy_home / "mount-allowlist.toml").write_text(
        f'[[allow]]\npath = "{home / "projects"}"\n\n'
        f'[[allow]]\npath = "{home}"\nread_write = true\n'
    )
    return home


def test_allowed_folder_is_accepted(cli, shared):
    result = cli("groups", "add", "work", "--mount", str(shared / "projects" / "notes"))
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("groups", "show", "work", "--json").stdout)
    assert shown["mounts"] == [str(shared / "projects" / "notes")]


@pytest.mark.parametrize("target", ["", ".ssh", "projects/../.ssh", ".ssh/id_ed25519"])
def test_credentials_are_refused_even_when_allowed(cli, shared, target):
    result = cli("groups", "add", "bad", "--mount", str(shared / target))
    assert result.exit_code == ExitCode.DENIED
    assert "credentials" in result.stderr


def test_outside_the_allowlist_and_symlinks_out_are_refused(cli, shared, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli("groups", "add", "bad", "--mount", str(elsewhere))
    assert result.exit_code == ExitCode.DENIED
    assert "not in the allowlist" in result.stderr and "mount-allowlist.toml" in result.stderr
    link = shared / "projects" / "sneaky"
    link.symlink_to(elsewhere)
    assert cli("groups", "add", "bad2", "--mount", str(link)).exit_code == ExitCode.DENIED


def test_allowlist_shrunk_after_add_refuses_the_run(cli, shared, pynchy_home, monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")
    assert cli("groups", "add", "work", "--mount", str(shared / "projects/notes")).exit_code == 0
    (pynchy_home / "mount-allowlist.toml").write_text("")
    result = cli("agent", "run", "-g", "work", "--model", "echo", "hi")
    assert result.exit_code == ExitCode.DENIED
    assert "not in the allowlist" in result.stderr


@pytest.mark.podman
def test_mounts_in_a_container_read_only_unless_both_say_rw(
    cli, shared, tmp_path, monkeypatch, pynchy_home
):
    if not socket_answers("/run/podman/podman.sock"):
        if REQUIRE_PODMAN:
            pytest.fail("podman is not serving")
        pytest.skip("podman is not serving")
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")
    writable = shared / "scratch"
    writable.mkdir()
    writable.chmod(0o777)  # writable by the agent's uid too, which as root is not ours
    assert (
        cli(
            "groups",
            "add",
            "work",
            "--admin",
            "--mount",
            str(shared / "projects/notes"),  # read-only (:rw here is refused: see below)
            "--mount",
            f"{writable}:rw",
        ).exit_code
        == 0
    )
    command = (
        "cat /mnt/notes/todo.txt; touch /mnt/notes/new 2>&1 || true;"
        " touch /mnt/scratch/made && echo wrote-scratch"
    )
    model = write_script(tmp_path / "s.json", [{"tool_calls": [bash(command)]}, {"text": "ok"}])
    result = cli("agent", "run", "-g", "work", "--model", model, "look")
    assert result.exit_code == 0, result.output
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    trace = json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)
    out = tool_results(trace)[0]["content"]
    assert "buy milk" in out and "Read-only file system" in out
    assert "wrote-scratch" in out and (writable / "made").exists()
    assert not (shared / "projects/notes/new").exists()
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        assert db.execute("select count(*) from runs").fetchone()[0] == 1


def test_rw_where_the_allowlist_says_read_only_is_refused_with_the_reason(cli, shared):
    notes = shared / "projects" / "notes"
    result = cli("groups", "add", "work", "--mount", f"{notes}:rw")
    assert result.exit_code == ExitCode.DENIED
    assert result.stderr.strip() == (
        f"pynchy: error: mount {notes} asks for read-write, but the allowlist entry "
        f"{shared / 'projects'} allows read-only. Set read_write = true for that entry in "
        f"{shared.parent / 'pynchy-home' / 'mount-allowlist.toml'}, or drop :rw"
    )
    assert cli("groups", "list", "--json").stdout.strip() == "[]"  # nothing was added
    assert cli("groups", "add", "home", "--mount", f"{shared / 'Documents'}:rw").exit_code == (
        ExitCode.DENIED  # not a folder yet; the read-write entry for the home allows :rw
    )
    (shared / "Documents").mkdir()
    (shared / "Documents").chmod(0o777)  # writable by the agent's uid too (as root, not ours)
    done = cli("groups", "add", "home", "--mount", f"{shared / 'Documents'}:rw")
    assert done.exit_code == 0, done.stderr


def test_a_dotdot_mount_outside_the_allowlist_suggests_its_resolved_path(cli, shared, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    raw = f"{shared}/projects/../../elsewhere"
    result = cli("groups", "add", "bad", "--mount", raw)
    assert result.exit_code == ExitCode.DENIED
    assert f"mount {raw} is not in the allowlist" in result.stderr
    assert f'Add [[allow]] path = "{elsewhere}" to ' in result.stderr
    assert ".." not in result.stderr.split("Add [[allow]]")[1]
