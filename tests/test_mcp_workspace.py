"""MCP servers that see the workspace: in their own podman container, or on the host with
/workspace paths mapped; kept per (server, group) and stopped when idle.

The server is tests/fakes/mcp_files_server.py, a file server that takes paths as given
(standard library only, speaking MCP over stdio). In container mode it runs from an image
built here FROM the agent image with the server copied in, as a person would build one
for a server the agent image lacks; in map mode it runs on the host.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PODMAN_SOCKET, require_podman, tool_results, write_script
from test_mcp_skills_hooks import audit_rows, call, last_trace, run_errors, write_config

from pynchy_cli.core.config import Settings, load_settings
from pynchy_cli.core.paths import resolve_paths
from pynchy_cli.core.plugins.mcp import McpServer, declared_servers
from pynchy_cli.core.plugins.mcp_container import McpPlace
from pynchy_cli.core.plugins.mcp_host import McpHost

FILES_SERVER = Path(__file__).parent / "fakes" / "mcp_files_server.py"
TEST_IMAGE = "localhost/pynchy-test-mcp-files:latest"
GIT_IMAGE = "localhost/pynchy-test-mcp-git:latest"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PODMAN = ["podman", "--remote", "--url", f"unix://{PODMAN_SOCKET}"]


@pytest.fixture
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


@pytest.fixture(scope="module")
def files_image(tmp_path_factory) -> str:
    """FROM the agent image, with the file server copied in (no network needed)."""
    require_podman()
    context = tmp_path_factory.mktemp("files-image")
    (context / "files_server.py").write_bytes(FILES_SERVER.read_bytes())
    base = Settings().image
    (context / "Containerfile").write_text(
        f"FROM {base}\nCOPY files_server.py /opt/mcp/files_server.py\n"
    )
    subprocess.run([*PODMAN, "build", "-q", "-t", TEST_IMAGE, str(context)], check=True)
    return TEST_IMAGE


@pytest.fixture(scope="module")
def git_image(tmp_path_factory) -> str:
    """The reference mcp-server-git from PyPI, in an image built as docs/mcp-skills-hooks.md
    says (Debian's python3-venv, then pip through the host's CA bundle; layers cached)."""
    require_podman()
    context = tmp_path_factory.mktemp("git-image")
    (context / "Containerfile").write_text(
        f"FROM {Settings().image}\nUSER root\n"
        "RUN apt-get update -q && apt-get install -y -q --no-install-recommends python3-venv"
        " && python3 -m venv /opt/mcp && /opt/mcp/bin/pip install -q --no-cache-dir"
        " mcp-server-git\nUSER agent\n"
    )
    volume = ["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"] if Path(CA_BUNDLE).exists() else []
    # Local podman: a remote build (podman 4.3) ignores --volume, and pip would then meet
    # a TLS-inspecting proxy without its CA. Same storage as the service's.
    subprocess.run(
        ["podman", "build", "-q", *volume, "-t", GIT_IMAGE, str(context)],
        check=True,
        timeout=900,
    )
    return GIT_IMAGE


def mcp_containers(server: str = "files") -> list[dict]:
    out = subprocess.run(
        [*PODMAN, "ps", "-a", "--filter", f"label=pynchy.mcp={server}", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out or "[]")


def wait_until_gone(server: str = "files", tries: int = 600) -> None:
    """Poll (bounded, for readiness) until no container of the server is left."""
    for _ in range(tries):
        if not mcp_containers(server):
            return
        asyncio.run(asyncio.sleep(0.1))
    raise AssertionError(f"containers of {server} still there: {mcp_containers(server)}")


def workspace(home: Path, group: str = "main") -> Path:
    folder = home / "groups" / group
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def container_config(image: str, extra: str = "") -> str:
    # `python3 -m` from the workspace: what the agent writes there must not be imported
    return (
        '[mcp.files]\ncommand = ["python3", "-m", "files_server"]\n'
        f'container = true\nimage = "{image}"\nrisk = "write"\n'
        'env = { FILES_TOKEN = "container-only-secret", PYTHONPATH = "/opt/mcp" }\n' + extra
    )


# --- in its own container -------------------------------------------------------------------


@pytest.mark.podman
def test_container_server_sees_the_workspace_and_nothing_else(
    cli, tmp_path, pynchy_home, process_runtime, files_image
):
    folder = workspace(pynchy_home)
    (folder / "notes.txt").write_text("the notes\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("HOST ONLY\n")
    (folder / "link").symlink_to(outside)
    (folder / "files_server.py").write_text("raise SystemExit('the agent's module ran')\n")
    write_config(pynchy_home, container_config(files_image))
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("mcp__files__about"),
                    call("mcp__files__read_file", path="/workspace/notes.txt"),
                    call("mcp__files__write_file", path="/workspace/out/new.txt", content="made"),
                    call("mcp__files__read_file", path=str(outside)),
                    call("mcp__files__read_file", path="/workspace/link"),
                ]
            },
            {"text": "done"},
        ],
    )
    result = cli("agent", "run", "--model", model, "use the files")
    assert result.exit_code == 0, result.output
    about, notes, wrote, host_file, link = tool_results(last_trace(cli))
    seen = json.loads(about["content"])
    settings = load_settings(resolve_paths())
    uid = settings.agent_uid if os.geteuid() == 0 else os.geteuid()
    assert seen["uid"] == uid and seen["cwd"] == "/workspace"
    assert seen["interfaces"] == ["lo"]  # no network unless granted
    assert seen["secret_length"] == len("container-only-secret")  # its env reached it
    assert "notes.txt" in seen["workspace_files"]
    assert notes == {**notes, "content": "the notes\n", "is_error": False}
    assert wrote["content"] == "wrote 4 characters to /workspace/out/new.txt"
    made = folder / "out" / "new.txt"
    assert made.read_text() == "made" and made.stat().st_uid == uid  # as the agent's own
    # the host's files are not there: by absolute path nor through a symlink
    for refused in (host_file, link):
        assert refused["is_error"] and "FileNotFoundError" in refused["content"], refused
    assert "HOST ONLY" not in json.dumps(tool_results(last_trace(cli)))
    wait_until_gone()  # the run's process ended: its server and container went with it


@pytest.mark.podman
def test_reference_git_server_in_a_container_sees_the_groups_repository(
    cli, tmp_path, pynchy_home, process_runtime, git_image
):
    folder = workspace(pynchy_home)
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "notes.txt").write_text("first\n")
    subprocess.run([*git, "add", "notes.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first notes"], check=True)
    (folder / "notes.txt").write_text("first\nsecond\n")
    write_config(
        pynchy_home,
        '[mcp.git]\ncommand = ["/opt/mcp/bin/mcp-server-git", "--repository", "/workspace"]\n'
        f'container = true\nimage = "{git_image}"\n',
    )
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("mcp__git__git_status", repo_path="/workspace"),
                    call("mcp__git__git_diff_unstaged", repo_path="/workspace"),
                    call("mcp__git__git_log", repo_path="/workspace"),
                ]
            },
            {"text": "done"},
        ],
    )
    result = cli("agent", "run", "--model", model, "what changed?")
    assert result.exit_code == 0, result.output
    status, diff, log = tool_results(last_trace(cli))
    assert not status["is_error"] and "modified:   notes.txt" in status["content"], status
    assert "+second" in diff["content"], diff
    assert "first notes" in log["content"], log
    wait_until_gone("git")


@pytest.mark.podman
def test_container_network_needs_the_table_and_the_profile(
    cli, tmp_path, pynchy_home, process_runtime, files_image
):
    workspace(pynchy_home)
    write_config(pynchy_home, container_config(files_image, "network = true\n"))
    model = write_script(
        tmp_path / "s.json", [{"tool_calls": [call("mcp__files__about")]}, {"text": "k"}]
    )

    def interfaces() -> tuple[list[str], list[str]]:
        result = cli("agent", "run", "--new-session", "--model", model, "where?")
        assert result.exit_code == 0, result.output
        trace = last_trace(cli)
        [about] = tool_results(trace)
        return json.loads(about["content"])["interfaces"], run_errors(trace)

    granted, warnings = interfaces()
    assert "lo" in granted and len(granted) > 1, granted
    assert cli("groups", "set", "main", "--profile", "locked").exit_code == 0
    refused, warnings = interfaces()
    assert refused == ["lo"]
    assert any("runs without a network" in w for w in warnings), warnings


@pytest.mark.podman
def test_one_container_per_group_reused_then_stopped_when_idle(pynchy_home, files_image):
    paths = resolve_paths()
    settings = Settings()
    folders = {}
    for group in ("alpha", "beta"):
        folders[group] = workspace(pynchy_home, group)
        (folders[group] / f"only-{group}.txt").write_text(group)
    server = McpServer(
        "files",
        command=["python3", "/opt/mcp/files_server.py"],
        container=True,
        image=files_image,
        idle_stop=5,
        risk="write",
    )

    def host(group: str) -> McpHost:
        return McpHost([server], paths.logs_dir, McpPlace(group, folders[group], settings, paths))

    async def scenario() -> None:
        alpha, beta = host("alpha"), host("beta")
        await alpha.list_tools()
        await beta.list_tools()
        assert alpha.warnings == beta.warnings == []
        seen = {}
        for group, run in (("alpha", alpha), ("beta", beta)):
            text, failed = await run.call("mcp__files__about", {})
            seen[group] = json.loads(text)["workspace_files"]
        assert seen == {"alpha": ["only-alpha.txt"], "beta": ["only-beta.txt"]}
        text, failed = await beta.call(
            "mcp__files__read_file", {"path": "/workspace/only-alpha.txt"}
        )
        assert failed and "FileNotFoundError" in text
        running = mcp_containers()
        assert sorted(c["Labels"]["pynchy.group"] for c in running) == ["alpha", "beta"]
        await alpha.aclose()
        await beta.aclose()
        # the next run of alpha takes the same container: pooled, not stopped with its run
        again = host("alpha")
        await again.list_tools()
        text, _ = await again.call("mcp__files__read_file", {"path": "/workspace/only-alpha.txt"})
        assert text == "alpha"
        await again.aclose()
        assert {c["Id"] for c in mcp_containers()} == {c["Id"] for c in running}
        for _ in range(600):  # idle_stop: both stop by themselves while the loop runs on
            if not mcp_containers():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"still running after idle_stop: {mcp_containers()}")

    asyncio.run(scenario())


@pytest.mark.podman
def test_doctor_starts_a_container_server_and_names_a_missing_image(cli, pynchy_home, files_image):
    write_config(pynchy_home, 'model = "echo"\n' + container_config(files_image))
    checks = {c["name"]: c for c in json.loads(cli("doctor", "--json").stdout)}
    assert checks["mcp files"]["ok"], checks["mcp files"]
    assert "read_file" in checks["mcp files"]["detail"]
    write_config(pynchy_home, 'model = "echo"\n' + container_config("localhost/no-such:image"))
    check = {c["name"]: c for c in json.loads(cli("doctor", "--json").stdout)}["mcp files"]
    assert not check["ok"] and "image localhost/no-such:image is not built" in check["detail"]
    wait_until_gone()


# --- on the host, paths mapped --------------------------------------------------------------


def test_map_paths_host_server_reads_the_real_folder_and_refuses_escapes(
    cli, tmp_path, pynchy_home, process_runtime
):
    folder = workspace(pynchy_home)
    (folder / "notes.txt").write_text("the notes\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("HOST ONLY\n")
    (folder / "link").symlink_to(outside)
    write_config(
        pynchy_home,
        f'[mcp.files]\ncommand = ["{sys.executable}", "{FILES_SERVER}"]\n'
        'map_paths = true\nrisk = "write"\n',
    )
    copy_ok = {"sources": ["/workspace/notes.txt"], "options": {"destination_dir": "copies"}}
    copy_escape = {
        "sources": ["/workspace/notes.txt", "/etc/hostname"],
        "options": {"destination_dir": "/workspace/copies2"},
    }
    model = write_script(
        tmp_path / "s.json",
        [
            {
                "tool_calls": [
                    call("mcp__files__read_file", path="/workspace/notes.txt"),
                    call("mcp__files__read_file", path="notes.txt"),
                    call("mcp__files__write_file", path="/workspace/sub/out.txt", content="yes"),
                    call("mcp__files__copy_files", **copy_ok),
                    call("mcp__files__read_file", path="/workspace/missing.txt"),
                    call("mcp__files__read_file", path="/etc/passwd"),
                    call("mcp__files__read_file", path="/workspace/../../outside.txt"),
                    call("mcp__files__read_file", path="/workspace/link"),
                    call("mcp__files__copy_files", **copy_escape),
                ]
            },
            {"text": "done"},
        ],
    )
    result = cli("agent", "run", "--model", model, "use the files")
    assert result.exit_code == 0, result.output
    results = tool_results(last_trace(cli))
    assert [r["content"] for r in results[:2]] == ["the notes\n", "the notes\n"]
    # results name the workspace as the agent knows it, never its folder on the host
    assert results[2]["content"] == "wrote 3 characters to /workspace/sub/out.txt"
    assert (folder / "sub" / "out.txt").read_text() == "yes"
    assert (folder / "copies" / "notes.txt").read_text() == "the notes\n"
    assert results[4]["is_error"] and "'/workspace/missing.txt'" in results[4]["content"]
    assert str(pynchy_home) not in json.dumps(results)
    passwd, dotdot, link, copy = results[5:]
    assert "'/etc/passwd' is outside the workspace" in passwd["content"]
    assert "leads outside the workspace" in dotdot["content"]
    assert "leads outside the workspace" in link["content"]
    assert "sources[1] '/etc/hostname' is outside the workspace" in copy["content"]
    assert all(r["is_error"] for r in results[5:])
    assert not (folder / "copies2").exists()  # refused before the server saw it
    assert "HOST ONLY" not in json.dumps(results)
    refused = [r for r in audit_rows(pynchy_home) if r["decision"] == "refused"]
    assert [r["action"] for r in refused] == [
        "tool:mcp__files__read_file",
        "tool:mcp__files__read_file",
        "tool:mcp__files__read_file",
        "tool:mcp__files__copy_files",
    ]


def test_shareable_is_one_server_for_all_groups_else_one_per_group(pynchy_home):
    paths, settings = resolve_paths(), Settings()
    command = [sys.executable, str(FILES_SERVER)]

    async def pids(server: McpServer) -> dict[str, int]:
        found = {}
        for group in ("alpha", "beta"):
            place = McpPlace(group, workspace(pynchy_home, group), settings, paths)
            run = McpHost([server], paths.logs_dir, place)
            await run.list_tools()
            text, failed = await run.call(f"mcp__{server.name}__about", {})
            assert not failed, text
            found[group] = json.loads(text)["pid"]
            await run.aclose()
        return found

    async def scenario() -> None:
        shared = await pids(McpServer("shared", command=command, shareable=True, risk="read"))
        assert shared["alpha"] == shared["beta"]
        own = await pids(McpServer("own", command=command, idle_stop=60, risk="read"))
        assert own["alpha"] != own["beta"]

    asyncio.run(scenario())


def test_placements_that_cannot_work_are_refused_with_the_reason():
    table = {"command": ["srv"], "risk": "read"}
    cases = {
        "both": ({"container": True, "map_paths": True}, "container or map_paths, not both"),
        "remote": (
            {"url": "http://127.0.0.1:1/mcp", "command": None, "container": True},
            "need a command",
        ),
        "shared": ({"map_paths": True, "shareable": True}, "cannot map one group's paths"),
        "image": ({"image": "x"}, "image and network are for container = true"),
        "env": ({"container": True, "env": {"BAD-NAME": "1"}}, "env names"),
    }
    for name, (change, why) in cases.items():
        settings = Settings(mcp={name: {**table, **change}})
        servers, [warning] = declared_servers(settings, [])
        assert servers == [] and warning.startswith(f"[mcp.{name}] in config.toml"), warning
        assert why in warning, warning
    ok = Settings(mcp={"fine": {**table, "container": True, "network": True, "idle_stop": 30}})
    [server] = declared_servers(ok, [])[0]
    assert server.container and server.network and server.idle_stop == 30 and server.pooled


def test_a_workspace_server_without_a_group_is_left_out():
    server = McpServer("files", command=["x"], map_paths=True)
    run = McpHost([server])
    assert run.servers == {}
    assert run.warnings == ["MCP server files left out: it needs a group's workspace"]
