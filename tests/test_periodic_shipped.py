"""The shipped periodic agents' host-side tools on a real git repository: the security
sweep (masked secrets with file:line, history, risky config, pip-audit), the simplifier's
rotating log and branch, the upstream check's state, and what a hostile workspace cannot
make them do (follow a symlink, run a program from .git/config or .gitattributes)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from shipped_fixture import FAKE_AWS_KEY, FAKE_TOKEN, UTIL_PY, commit_all, git, make_repo

from pynchy_cli.core.config import load_settings
from pynchy_cli.core.logs import run_log
from pynchy_cli.core.paths import resolve_paths
from pynchy_cli.core.periodic import load_periodic
from pynchy_cli.core.periodic.shipped import SHIPPED, simplifier, upstream
from pynchy_cli.core.periodic.shipped.registration import SERVERS, shipped_server
from pynchy_cli.core.periodic.shipped.safe_git import GitError, checked_git_dir
from pynchy_cli.core.periodic.shipped.sweep import sweep
from pynchy_cli.core.plugins.mcp_host import probe


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "workspace")


def where(findings: list[dict], kind: str) -> list[str]:
    return [f["where"] for f in findings if f["kind"] == kind]


def test_the_five_agents_are_shipped_disabled_with_their_servers(pynchy_home: Path):
    assert set(SHIPPED) == set(SERVERS) == {
        "security-sweep", "code-simplifier", "upstream-check", "log-recovery", "health-report",
    }  # fmt: skip
    agents = load_periodic(load_settings(resolve_paths()))
    for name in SHIPPED:
        agent = agents[name]
        assert agent.source == "shipped" and not agent.enabled
        assert agent.mcp_servers == [name] and f"mcp__{name}__" in agent.prompt


def test_sweep_reports_masked_secrets_risky_config_and_history(repo: Path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no pip-audit there
    os.chmod(repo / "app" / "util.py", 0o666)
    report = sweep(repo)
    findings = report["findings"]
    assert where(findings, "AWS access key id") == ["app/settings.py:3", "app/settings.py:3"]
    assert {f["category"] for f in findings if f["kind"] == "AWS access key id"} == {
        "secret",
        "history-secret",
    }
    [removed] = [f for f in findings if f["kind"] == "high-entropy secret assignment"]
    assert removed["category"] == "history-secret" and removed["where"] == "app/old.cfg:1"
    assert removed["commit"] and removed["masked"].startswith(FAKE_TOKEN[:4] + "*")
    assert where(findings, "debug enabled") == ["app/settings.py:4"]
    assert where(findings, "listens on every interface (0.0.0.0)") == ["app/settings.py:5"]
    assert where(findings, "world-writable file (mode o+w)") == ["app/util.py"]
    assert report["advisories"] == {"status": "pip-audit not installed"}
    text = json.dumps(report)
    assert FAKE_AWS_KEY not in text and FAKE_TOKEN not in text  # only masked forms


def test_sweep_does_not_follow_a_planted_symlink(repo: Path, tmp_path: Path):
    outside = tmp_path / "host-secret.py"
    outside.write_text(f'key = "{FAKE_AWS_KEY[:-1]}X"\n')  # a different key, outside
    settings = repo / "app" / "settings.py"
    settings.unlink()
    settings.symlink_to(outside)  # the tracked file is now a link out of the workspace
    report = sweep(repo, history_commits=0)
    assert report["skipped"] == ["app/settings.py: not read: is a symlink"]
    assert "X" + "*" not in json.dumps(report) and not where(
        report["findings"], "AWS access key id"
    )


def test_a_git_folder_that_is_a_symlink_or_borrows_objects_is_refused(repo: Path, tmp_path: Path):
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").symlink_to(repo / ".git")
    with pytest.raises(GitError, match=r"\.git is a symlink"):
        sweep(linked)
    gitfile = tmp_path / "gitfile"
    gitfile.mkdir()
    (gitfile / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    with pytest.raises(GitError, match="not a folder"):
        checked_git_dir(gitfile)
    (repo / ".git" / "objects" / "info" / "alternates").write_text(str(tmp_path) + "\n")
    with pytest.raises(GitError, match="borrows"):
        checked_git_dir(repo)


def test_programs_named_by_the_repository_never_run(repo: Path, tmp_path: Path):
    marker = tmp_path / "ran"
    evil = f"touch {marker}"
    git(repo, "config", "core.fsmonitor", evil)
    git(repo, "config", "filter.evil.clean", evil)
    git(repo, "config", "diff.external", evil)
    git(repo, "config", "core.pager", evil)
    (repo / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil\n")
    git(repo, "config", "diff.evil.textconv", evil)
    (repo / ".git" / "hooks" / "post-commit").write_text(f"#!/bin/sh\n{evil}\n")
    os.chmod(repo / ".git" / "hooks" / "post-commit", 0o755)
    sweep(repo)
    simplifier.next_files(repo)
    simplifier.propose_change(repo, "app/util.py", "def is_set(x):\n    return x\n", "shorter")
    simplifier.record_audited(repo, ["app/util.py"])
    assert not marker.exists()


def test_simplifier_skips_unchanged_files_and_reaudits_a_changed_one(repo: Path):
    first = simplifier.next_files(repo, count=5)
    assert [(f["path"], f["reason"]) for f in first["files"]] == [
        ("app/settings.py", "not audited yet"),
        ("app/util.py", "not audited yet"),
    ]
    assert first["files"][1]["content"] == UTIL_PY  # committed content, from git
    done = simplifier.record_audited(repo, ["app/settings.py", "app/util.py", "nope.py"], "ok")
    assert done["recorded"] == ["app/settings.py", "app/util.py"] and done["not_tracked"] == [
        "nope.py"
    ]
    second = simplifier.next_files(repo, count=5)
    assert second["files"] == [] and second["unchanged_skipped"] == 2
    (repo / "app" / "util.py").write_text(UTIL_PY + "\n\ndef unused():\n    pass\n")
    assert simplifier.next_files(repo)["files"] == []  # not committed: HEAD is unchanged
    commit_all(repo, "grow util")
    [changed] = simplifier.next_files(repo, count=5)["files"]
    assert (changed["path"], changed["reason"]) == ("app/util.py", "changed since its audit")
    log = (repo / simplifier.LOG_PATH).read_text().splitlines()
    assert [json.loads(line)["path"] for line in log] == ["app/settings.py", "app/util.py"]
    assert "/.pynchy/" in (repo / ".git" / "info" / "exclude").read_text()
    assert git(repo, "status", "--porcelain") == ""  # the log is not in the user's status


def test_simplifier_proposes_on_its_branch_and_leaves_the_checkout_alone(repo: Path):
    (repo / "app" / "util.py").write_text(UTIL_PY + "# the user's unsaved work\n")
    head = git(repo, "rev-parse", "HEAD").strip()
    new = "def is_set(x):\n    return x == True\n"
    made = simplifier.propose_change(repo, "app/util.py", new, "Simplify is_set")
    branch = simplifier.branch_name()
    assert made["branch"] == branch and made["pushed"] is False
    assert git(repo, "show", f"{branch}:app/util.py") == new
    assert git(repo, "log", "-1", "--format=%P %s", branch).strip() == f"{head} Simplify is_set"
    again = simplifier.propose_change(repo, "app/settings.py", "x = 1\n", "Second")
    assert git(repo, "rev-parse", f"{branch}~1").strip().startswith(made["commit"])
    assert again["commit"]
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert (repo / "app" / "util.py").read_text().endswith("# the user's unsaved work\n")
    assert git(repo, "status", "--porcelain").strip() == "M app/util.py"  # as the user left it
    with pytest.raises(GitError, match="not a tracked file"):
        simplifier.propose_change(repo, "new.py", "x", "no")
    git(repo, "checkout", "-q", "--force", branch)
    with pytest.raises(GitError, match="is checked out"):
        simplifier.propose_change(repo, "app/util.py", "y = 2\n", "no")


def test_a_symlinked_simplifier_log_is_not_read_nor_written_through(repo: Path, tmp_path: Path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text("keep me\n")
    (repo / ".pynchy").mkdir()
    (repo / simplifier.LOG_PATH).symlink_to(outside)
    listed = simplifier.next_files(repo)
    assert "is a symlink" in listed["warnings"][0]
    simplifier.record_audited(repo, ["app/util.py"])
    assert outside.read_text() == "keep me\n"
    assert not (repo / simplifier.LOG_PATH).is_symlink()


def test_upstream_reports_changes_since_the_last_seen_commit(tmp_path: Path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    local = make_repo(tmp_path / "local-upstream")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(local), str(bare))
    url = f"file://{bare}"
    cache = tmp_path / "cache"
    repos = [str(local), url]
    first = upstream.changes(workspace, repos, cache, None)["repos"]
    assert [r["status"] for r in first] == ["first look: its latest commits"] * 2
    assert "remove the config" in first[0]["commits"][0]
    upstream.mark_seen(workspace, repos, repos, cache)
    assert [r["status"] for r in upstream.changes(workspace, repos, cache, None)["repos"]] == [
        "no change since the last run"
    ] * 2
    (local / "NEWS").write_text("feature\n")
    commit_all(local, "Add the feature")
    git(local, "push", "-q", str(bare), "main")
    now = upstream.changes(workspace, repos, cache, None)["repos"]
    assert [r["status"] for r in now] == ["changed", "changed"]
    assert len(now[1]["commits"]) == 1 and "Add the feature" in now[1]["commits"][0]
    refused = upstream.changes(workspace, repos, cache, "no network for you")["repos"]
    assert refused[0]["status"] == "changed" and refused[1] == {
        "repo": url,
        "error": "no network for you",
    }
    state = json.loads((workspace / upstream.STATE_PATH).read_text())
    state["seen"][url] = "--upload-pack=touch x"  # the container edits its state
    (workspace / upstream.STATE_PATH).write_text(json.dumps(state))
    assert upstream.read_state(workspace)[0] == {str(local): state["seen"][str(local)]}


CONFIG = """\
[periodic.upstream-check]
enabled = true
profile = "locked"

[periodic.security-sweep]
enabled = true
group = "ops"

[plugin.upstream-check]
repos = ["https://example.invalid/x.git", "/srv/src/y"]
"""


def test_servers_are_offered_only_to_the_groups_of_enabled_agents(pynchy_home: Path, cli):
    settings = load_settings(resolve_paths())
    assert all(shipped_server(name, settings) is None for name in SERVERS)  # all disabled
    (pynchy_home / "config.toml").write_text(CONFIG)
    assert cli("groups", "add", "main").exit_code == 0
    settings = load_settings(resolve_paths())
    sweep_server = shipped_server("security-sweep", settings)
    assert sweep_server.groups == ["ops"] and sweep_server.map_paths
    assert sweep_server.flags == ["secret_data"]
    up = shipped_server("upstream-check", settings)
    assert up.groups == ["main"] and json.loads(up.env["PYNCHY_UPSTREAM_REPOS"])[1] == "/srv/src/y"
    [why] = json.loads(up.env["PYNCHY_UPSTREAM_NETWORK"]).values()
    assert "needs a security profile with a network" in why and "locked" in why
    assert shipped_server("log-recovery", settings) is None


ALL_ENABLED = "".join(f"[periodic.{name}]\nenabled = true\n\n" for name in SERVERS)


def mcp_call(server: Any, tool: str, arguments: dict[str, Any]) -> Any:
    """Start the real server over stdio, as the host does, and call one tool."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def go() -> Any:
        params = StdioServerParameters(
            command=server.command[0], args=server.command[1:], env=server.env, cwd=server.cwd
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await session.call_tool(tool, arguments)

    return asyncio.run(go())


def test_tools_carry_annotations_that_tier_them(pynchy_home: Path, cli):
    (pynchy_home / "config.toml").write_text(ALL_ENABLED)
    assert cli("groups", "add", "main").exit_code == 0
    settings = load_settings(resolve_paths())
    tiers = {}
    for name in SERVERS:
        server = shipped_server(name, settings)
        tools, warnings = asyncio.run(probe(server, 30))
        assert warnings == []
        for tool in tools:
            rule = server.rule(tool.tool, tool.annotations)
            tiers[tool.name] = (rule.tier, sorted(rule.flags))
    assert tiers == {
        "mcp__security-sweep__scan": ("read", ["secret_data"]),
        "mcp__code-simplifier__next_files": ("read", []),
        "mcp__code-simplifier__record_audited": ("write", []),
        "mcp__code-simplifier__propose_change": ("write", []),
        "mcp__upstream-check__changes": ("read", ["untrusted_input"]),
        "mcp__upstream-check__mark_seen": ("write", []),
        "mcp__log-recovery__error_groups": ("read", ["untrusted_input"]),
        "mcp__health-report__health": ("read", []),
    }


def test_log_recovery_and_health_report_tools_answer(pynchy_home: Path, cli):
    (pynchy_home / "config.toml").write_text(ALL_ENABLED)
    assert cli("groups", "add", "main").exit_code == 0
    paths = resolve_paths()
    for n in range(2):
        with run_log(paths, f"run{n}") as log:
            log.error("model call failed", message="the provider said no")
    settings = load_settings(paths)
    answer = mcp_call(shipped_server("log-recovery", settings), "error_groups", {"hours": 24})
    groups = json.loads(answer.content[0].text)["groups"]
    assert not answer.is_error and [(g["key"], g["count"]) for g in groups] == [
        ("model call failed: the provider said no", 2)
    ]
    health = mcp_call(shipped_server("health-report", settings), "health", {})
    lines = json.loads(health.content[0].text)["lines"]
    assert not health.is_error and lines[0].startswith("version: ")
    assert "uptime: serve is not running" in lines
    assert any(line.startswith("errors in the log, last 24 h: 2") for line in lines)


def test_upstream_server_refuses_a_url_without_network_and_reads_local_paths(
    pynchy_home: Path, cli, tmp_path: Path
):
    local = make_repo(tmp_path / "local")
    (pynchy_home / "config.toml").write_text(
        '[periodic.upstream-check]\nenabled = true\nprofile = "locked"\n\n'
        f'[plugin.upstream-check]\nrepos = ["{local}", "https://example.invalid/x.git"]\n'
    )
    assert cli("groups", "add", "main").exit_code == 0
    [(folder,)] = sqlite3.connect(pynchy_home / "pynchy.db").execute("select folder from groups")
    server = shipped_server("upstream-check", load_settings(resolve_paths()))
    answer = mcp_call(server, "changes", {"folder": folder})  # the host maps /workspace so
    local_report, url_report = json.loads(answer.content[0].text)["repos"]
    assert local_report["status"] == "first look: its latest commits"
    assert "needs a security profile with a network" in url_report["error"]
    assert "locked" in url_report["error"]
