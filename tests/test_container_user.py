"""Agent containers run as an unprivileged user: never root, the workspace still theirs,
the socket folder not theirs (only the socket is mounted), read-write mounts checked."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from helpers import bash, tool_results, write_script

from pynchy_cli import protocol
from pynchy_cli.core.agent.agent_user import AgentUser, give_tree, writable_by
from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import ExitCode
from pynchy_cli.core.runtimes.detect import EngineSocket, socket_answers
from pynchy_cli.core.runtimes.docker import DockerRuntime
from pynchy_cli.core.runtimes.podman import PodmanRuntime

REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"
PODMAN_SOCKET = "/run/podman/podman.sock"
AS_ROOT = os.geteuid() == 0
AGENT_UID = Settings.model_fields["agent_uid"].default if AS_ROOT else os.geteuid()
needs_root = pytest.mark.skipif(not AS_ROOT, reason="chown to another uid needs root")


@pytest.fixture
def podman(monkeypatch):
    if not socket_answers(PODMAN_SOCKET):
        if REQUIRE_PODMAN:
            pytest.fail(f"podman is not serving on {PODMAN_SOCKET}")
        pytest.skip("podman is not serving (run scripts/setup-podman)")
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")


def run_bash(cli, tmp_path: Path, command: str, *more: dict, group: str = "main") -> str:
    """One run whose scripted model calls bash `command` (then the `more` tools); the
    bash tool's output."""
    turns = [{"tool_calls": [bash(command)]}, *({"tool_calls": [t]} for t in more)]
    script = tmp_path / f"script-{len(list(tmp_path.glob('script-*')))}.json"
    model = write_script(script, [*turns, {"text": "done"}])
    result = cli("agent", "run", "-g", group, "--new-session", "--model", model, "go")
    assert result.exit_code == 0, result.output
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    trace = json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)
    assert trace["run"]["status"] == "succeeded"
    return tool_results(trace)[0]["content"]


@pytest.mark.podman
def test_the_agent_is_not_root_and_its_workspace_is_its_own(cli, podman, tmp_path, pynchy_home):
    assert cli("groups", "add", "main", "--admin").exit_code == 0
    (pynchy_home / "global/CLAUDE.md").chmod(0o600)  # as a umask of 077 would leave it
    out = run_bash(
        cli,
        tmp_path,
        "id -u; id -g; echo first > notes.txt; mkdir -p deep/er; echo x > deep/er/f;"
        " echo 'remember: tea' >> CLAUDE.md; cat /memory/global/CLAUDE.md | head -1",
    )
    uid, gid = (int(line) for line in out.split("stdout:\n", 1)[1].splitlines()[:2])
    assert uid == AGENT_UID != 0 and gid == AGENT_UID
    assert "# Global memory" in out  # the global memory stays readable
    workspace = pynchy_home / "groups/main"
    assert (workspace / "notes.txt").read_text() == "first\n"  # the host reads it
    assert (workspace / "deep/er/f").stat().st_uid == AGENT_UID
    assert "remember: tea" in (workspace / "CLAUDE.md").read_text()
    # The host writes into the workspace meanwhile; the next run edits all of it.
    (workspace / "from-host.txt").write_text("host\n")
    out = run_bash(
        cli,
        tmp_path,
        "echo second >> notes.txt && echo more >> from-host.txt && echo 'and milk' >> CLAUDE.md"
        " && echo edited",
    )
    assert "edited" in out
    assert (workspace / "notes.txt").read_text() == "first\nsecond\n"
    assert (workspace / "from-host.txt").read_text() == "host\nmore\n"
    assert "and milk" in (workspace / "CLAUDE.md").read_text()


SOCKET_ATTACK = (
    "cd /run/pynchy; stat -c '%u %a' . ; touch x && echo made-x;"
    " rm -f pynchy.sock && echo removed-socket; mv pynchy.sock y && echo moved-socket;"
    " ln -s /workspace link && echo made-link; mkdir d && echo made-dir; ls -A"
)


@pytest.mark.podman
def test_the_socket_folder_is_not_the_agents(cli, podman, tmp_path, pynchy_home):
    out = run_bash(cli, tmp_path, SOCKET_ATTACK, {"name": "list_tasks", "input": {}})
    owner, _mode = out.split("stdout:\n", 1)[1].splitlines()[0].split()
    assert owner == "0"  # the image's /run/pynchy, not the host's run folder
    for made in ("made-x", "removed-socket", "moved-socket", "made-link", "made-dir"):
        assert made not in out
    assert "Permission denied" in out and protocol.SOCKET_NAME in out
    # The run's socket still worked after the attempts: the next tool call was answered.
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    trace = json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)
    assert tool_results(trace)[1]["content"] == "no tasks"
    assert not (pynchy_home / "runs" / runs[0]["id"]).exists()  # removed after the run


@pytest.mark.podman
@needs_root
def test_read_write_mounts_the_agent_cannot_write_are_refused(
    cli, podman, tmp_path, pynchy_home, monkeypatch
):
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    (pynchy_home / "mount-allowlist.toml").write_text(
        f'[[allow]]\npath = "{shared}"\nread_write = true\n'
    )
    data = shared / "data"
    data.chmod(0o755)  # root's, not the agent's
    result = cli("groups", "add", "work", "--mount", f"{data}:rw")
    assert result.exit_code == ExitCode.DENIED
    assert f"uid {AGENT_UID}" in result.stderr and f"chown -R {AGENT_UID}" in result.stderr
    assert "setfacl" in result.stderr
    assert cli("groups", "add", "work", "--mount", f"{data}:ro").exit_code == 0  # read is fine
    os.chown(data, AGENT_UID, AGENT_UID)
    assert cli("groups", "add", "rw", "--mount", f"{data}:rw").exit_code == 0
    # Taken back after the group was added: the run says so before any container starts.
    os.chown(data, 0, 0)
    model = write_script(tmp_path / "s.json", [{"text": "never"}])
    result = cli("agent", "run", "-g", "rw", "--model", model, "go")
    assert result.exit_code == ExitCode.DENIED
    assert f"read-write mount {data} is not writable by the agent" in result.stderr


@pytest.mark.podman
@needs_root
def test_a_persons_folder_is_never_chowned_only_checked(cli, podman, tmp_path, pynchy_home):
    """A workspace outside pynchy's data folder (`groups add --folder`) keeps its owner: the
    agent must be able to write it, or add and run say how to let it."""
    existing = tmp_path / "alice-project"
    existing.mkdir(mode=0o755)
    result = cli("groups", "add", "alice", "--folder", str(existing))
    assert result.exit_code == ExitCode.DENIED
    assert f"the workspace {existing} is not writable" in result.stderr
    fresh = tmp_path / "new-folder"  # made by `groups add` itself, as root
    assert cli("groups", "add", "fresh", "--folder", str(fresh)).exit_code == 0
    model = write_script(tmp_path / "s.json", [{"text": "never"}])
    result = cli("agent", "run", "-g", "fresh", "--model", model, "go")
    assert result.exit_code == ExitCode.DENIED and f"chown -R {AGENT_UID}" in result.stderr
    assert fresh.stat().st_uid == 0  # left as it was
    os.chown(fresh, AGENT_UID, AGENT_UID)
    out = run_bash(cli, tmp_path, "echo hi > made && echo wrote", group="fresh")
    assert "wrote" in out and (fresh / "made").stat().st_uid == AGENT_UID


@needs_root
def test_writable_by_asks_the_kernel_including_acls(tmp_path):
    folder = tmp_path / "acl"
    folder.mkdir(mode=0o755)
    agent = AgentUser(AGENT_UID, AGENT_UID)
    assert not writable_by(folder, agent)

    def entry(tag: int, perm: int, ident: int = 0xFFFFFFFF) -> bytes:
        return struct.pack("<HHI", tag, perm, ident)

    # What `setfacl -m u:AGENT_UID:rwx` writes: user::rwx user:AGENT:rwx group::r-x
    # mask::rwx other::r-x
    acl = struct.pack("<I", 2) + b"".join(
        [entry(1, 7), entry(2, 7, AGENT_UID), entry(4, 5), entry(0x10, 7), entry(0x20, 5)]
    )
    try:
        os.setxattr(folder, "system.posix_acl_access", acl)
    except OSError:
        pytest.skip("this filesystem has no POSIX ACLs")
    assert writable_by(folder, agent)
    assert not writable_by(folder, AgentUser(AGENT_UID + 1, AGENT_UID + 1))


@needs_root
def test_handing_over_a_workspace_never_follows_its_symlinks(tmp_path):
    """A container planted links to host files in its workspace: chowning the workspace
    chowns the links, never what they point to."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret"
    secret.write_text("host only")
    workspace = tmp_path / "ws"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "sub/file").write_text("x")
    (workspace / "to-file").symlink_to(secret)
    (workspace / "sub/to-dir").symlink_to(outside)
    agent = AgentUser(AGENT_UID, AGENT_UID)
    give_tree(workspace, agent)
    for path in (workspace, workspace / "sub", workspace / "sub/file", workspace / "to-file"):
        assert path.lstat().st_uid == AGENT_UID
    assert (workspace / "sub/to-dir").lstat().st_uid == AGENT_UID
    assert secret.stat().st_uid == 0 and outside.stat().st_uid == 0
    # Later runs: only what is not the agent's yet at the top, still without following.
    (workspace / "new-link").symlink_to(secret)
    (workspace / "new-file").write_text("from the host")
    give_tree(workspace, agent)
    assert (workspace / "new-file").stat().st_uid == AGENT_UID
    assert (workspace / "new-link").lstat().st_uid == AGENT_UID
    assert secret.stat().st_uid == 0


def test_a_rootless_engine_maps_the_user():
    """Rootless podman: keep-id, so the host uid is the same uid inside. Rootless Docker
    has no keep-id: the container's root is the host user there."""
    podman = PodmanRuntime(EngineSocket("podman", "unix:///nowhere"))
    docker = DockerRuntime(EngineSocket("docker", "unix:///nowhere"))
    assert podman._user_options("1000:1000", False) == {"user": "1000:1000"}
    assert podman._user_options("1000:1000", True) == {
        "user": "1000:1000",
        "userns_mode": "keep-id",
    }
    assert docker._user_options("1000:1000", False) == {"user": "1000:1000"}
    assert docker._user_options("1000:1000", True) == {"user": "0:0"}


@pytest.mark.podman
def test_engines_say_whether_they_are_rootless(podman):
    engine = EngineSocket("podman", f"unix://{PODMAN_SOCKET}")
    for runtime in (PodmanRuntime(engine), DockerRuntime(engine)):
        try:
            # This podman service is root's: rootful, through either API.
            assert runtime._ask_rootless() is False
        finally:
            runtime.close()
