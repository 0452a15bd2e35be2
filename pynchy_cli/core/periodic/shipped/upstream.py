"""The upstream check: what changed in the repositories the user listed since the last
run. The list comes from the host's config (`[plugin.upstream-check] repos`), never from
the agent: git URLs are mirrored under the data folder (fetching needs a security profile
with a network), local paths are read where they are. The last commit seen of each is
kept in the group's workspace (.pynchy/upstream-state.json), validated when read back:
the container can write it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from pynchy_cli.core.periodic.shipped.safe_git import HEX40, GitError
from pynchy_cli.core.workspace_files import UnsafePath, read_text, write_file

STATE_PATH = ".pynchy/upstream-state.json"
MAX_COMMITS = 50
FETCH_TIMEOUT = 300


def is_url(repo: str) -> bool:
    """A git URL (https://, ssh://, file://, git@host:path) rather than a local path."""
    return not (repo.startswith("/") or repo.startswith("~"))


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """git on a repository the user listed (trusted: their own git config applies)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git did not run: {type(exc).__name__}") from None


def _git(args: list[str], timeout: float = FETCH_TIMEOUT) -> str:
    done = _run(args, timeout)
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        raise GitError(said[-1] if said else f"git exited with {done.returncode}")
    return done.stdout


def mirror_dir(cache: Path, url: str) -> Path:
    return cache / hashlib.sha256(url.encode()).hexdigest()[:24]


def _where(repo: str, cache: Path) -> list[str]:
    """git's arguments that point at `repo`: its mirror, or the local checkout."""
    if is_url(repo):
        return ["--git-dir", str(mirror_dir(cache, repo))]
    return ["-C", str(Path(repo).expanduser())]


def _fetched(repo: str, cache: Path, network: str | None) -> list[str]:
    """`_where(repo)`, fetched first when it is a URL. GitError when a URL cannot be
    fetched (no network allowed, or the fetch failed)."""
    where = _where(repo, cache)
    if not is_url(repo):
        _git([*where, "rev-parse", "--git-dir"], timeout=30)
        return where
    if network is not None:
        raise GitError(network)
    mirror = mirror_dir(cache, repo)
    if (mirror / "HEAD").exists():
        _git([*where, "remote", "update", "--prune"])
    else:
        mirror.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _git(["clone", "--quiet", "--mirror", "--", repo, str(mirror)])
    return where


def read_state(root: Path) -> tuple[dict[str, str], list[str]]:
    try:
        text, _ = read_text(root, STATE_PATH, max_bytes=1_000_000)
    except FileNotFoundError:
        return {}, []
    except UnsafePath as exc:
        return {}, [f"{STATE_PATH} not read ({exc.problem}): every repository counts as new"]
    try:
        data = json.loads(text)
    except ValueError:
        return {}, [f"{STATE_PATH} is not JSON: every repository counts as new"]
    seen = data.get("seen") if isinstance(data, dict) else None
    if not isinstance(seen, dict):
        return {}, []
    return {k: v for k, v in seen.items() if isinstance(k, str) and HEX40.match(str(v))}, []


def changes(root: Path, repos: list[str], cache: Path, network: str | None) -> dict[str, Any]:
    """For each repository: its head now, and the commits since the one last seen.
    `network`: None when fetching is allowed, else why not (said for each URL)."""
    seen, warnings = read_state(root)
    report = []
    for repo in repos:
        try:
            report.append(_one(repo, seen.get(repo), cache, network))
        except GitError as exc:
            report.append({"repo": repo, "error": str(exc)})
    return {"repos": report, "warnings": warnings, "configured": len(repos)}


def _one(repo: str, since: str | None, cache: Path, network: str | None) -> dict[str, Any]:
    where = _fetched(repo, cache, network)
    head = _git([*where, "rev-parse", "HEAD^{commit}"], timeout=30).strip()
    entry: dict[str, Any] = {"repo": repo, "head": head, "last_seen": since}
    if since == head:
        entry["status"] = "no change since the last run"
        return entry
    log = ["log", f"-n{MAX_COMMITS}", "--format=%h %ad %an: %s", "--date=short"]
    if since is None:
        entry["status"] = "first look: its latest commits"
        entry["commits"] = _git([*where, *log, head], timeout=60).splitlines()
        return entry
    known = _run([*where, "merge-base", "--is-ancestor", since, head], timeout=60)
    if known.returncode != 0:
        entry["status"] = "history rewritten or last seen commit gone: its latest commits"
        entry["commits"] = _git([*where, *log, head], timeout=60).splitlines()
        return entry
    entry["status"] = "changed"
    entry["commits"] = _git([*where, *log, f"{since}..{head}"], timeout=60).splitlines()
    entry["files_changed"] = _git(
        [*where, "diff", "--stat=100", "--no-ext-diff", "--no-textconv", since, head], timeout=60
    ).splitlines()[-1:]
    return entry


def mark_seen(root: Path, repos: list[str], configured: list[str], cache: Path) -> dict[str, Any]:
    """Record each repository's head now (as fetched by `changes`) as seen."""
    seen, warnings = read_state(root)
    marked, unknown = {}, []
    for repo in repos:
        if repo not in configured:
            unknown.append(repo)
            continue
        try:
            head = _git([*_where(repo, cache), "rev-parse", "HEAD^{commit}"], timeout=30)
            marked[repo] = head.strip()
        except GitError as exc:
            warnings.append(f"{repo}: {exc}")
    seen.update(marked)
    write_file(root, STATE_PATH, json.dumps({"seen": seen}, indent=1) + "\n", make_folders=True)
    return {"marked": marked, "not_configured": unknown, "warnings": warnings}
