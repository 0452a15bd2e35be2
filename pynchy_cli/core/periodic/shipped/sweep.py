"""The security sweep of a repository in a group's workspace: secrets committed (in the
tracked files and in the last commits), risky configuration, and dependency advisories
from a local pip-audit. Files are read through core.workspace_files (no symlink is
followed) and history through safe_git; a secret is reported masked, with file:line."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pynchy_cli.core.periodic.shipped.patterns import risky_in, secrets_in
from pynchy_cli.core.periodic.shipped.safe_git import (
    GitError,
    checked_git_dir,
    head_commit,
    run_git,
)
from pynchy_cli.core.workspace_files import UnsafePath, folder_fd, parts_of, read_file

MAX_FILE_BYTES = 1_000_000  # larger files are scanned up to here
MAX_FILES = 5000
MAX_FINDINGS = 200
MAX_HISTORY = 500  # commits
PIP_AUDIT_TIMEOUT = 300
REQUIREMENTS = re.compile(r"(?:^|/)requirements[\w.-]*\.txt$")


@dataclass(frozen=True)
class Finding:
    category: str  # secret | history-secret | risky-config
    kind: str
    where: str  # path:line
    masked: str | None = None
    commit: str | None = None  # history: the commit that added it (short)


def sweep(root: Path, history_commits: int = 50) -> dict[str, Any]:
    """Scan the repository at `root` (a folder the host resolved inside the workspace)."""
    git_dir = checked_git_dir(root)
    paths = tracked_paths(git_dir)
    findings: list[Finding] = []
    skipped: list[str] = []
    requirement_texts: dict[str, str] = {}
    for path in paths[:MAX_FILES]:
        text, problem = _read_tracked(root, path)
        if problem:
            skipped.append(f"{path}: {problem}")
            continue
        if text is None:
            continue
        findings += scan_text(path, text)
        if REQUIREMENTS.search(path):
            requirement_texts[path] = text
        if _world_writable(root, path):
            findings.append(Finding("risky-config", "world-writable file (mode o+w)", path))
    if len(paths) > MAX_FILES:
        skipped.append(f"{len(paths) - MAX_FILES} more tracked files not scanned")
    findings += history_secrets(git_dir, min(max(history_commits, 0), MAX_HISTORY))
    more = max(0, len(findings) - MAX_FINDINGS)
    return {
        "files_scanned": min(len(paths), MAX_FILES) - len(skipped),
        "findings": [asdict(f) for f in findings[:MAX_FINDINGS]],
        "more_findings": more,
        "skipped": skipped[:50],
        "advisories": audit_requirements(requirement_texts),
    }


def tracked_paths(git_dir: Path) -> list[str]:
    """Files in the index (tracked, staged included); symlinks and submodules left out."""
    out = run_git(git_dir, "ls-files", "-z", "--cached", "--stage")
    paths = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        if meta.split()[0] in (b"100644", b"100755"):
            paths.append(path.decode("utf-8", "replace"))
    return sorted(set(paths))


def _read_tracked(root: Path, path: str) -> tuple[str | None, str | None]:
    """(text, None), (None, None) for a binary or missing file, (None, why) when refused."""
    try:
        data = read_file(root, path, max_bytes=MAX_FILE_BYTES).data
    except FileNotFoundError:
        return None, None
    except UnsafePath as exc:
        return None, f"not read: {exc.problem}"
    except OSError as exc:
        return None, f"not read: {exc.strerror or type(exc).__name__}"
    if b"\0" in data[:8000]:
        return None, None
    return data.decode("utf-8", "replace"), None


def _world_writable(root: Path, path: str) -> bool:
    parts = parts_of(path)
    try:
        with folder_fd(root, "/".join(parts[:-1])) as fd:
            mode = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode
    except (OSError, UnsafePath):
        return False
    return stat.S_ISREG(mode) and bool(mode & stat.S_IWOTH)


def scan_text(path: str, text: str) -> list[Finding]:
    found: list[Finding] = []
    for number, line in enumerate(text.splitlines(), 1):
        for hit in secrets_in(line):
            found.append(Finding("secret", hit.kind, f"{path}:{number}", hit.masked))
        for hit in risky_in(line):
            found.append(Finding("risky-config", hit.kind, f"{path}:{number}"))
    return found


_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def history_secrets(git_dir: Path, commits: int) -> list[Finding]:
    """Secrets added by the last `commits` commits (also those later removed: they stay in
    history). One finding per secret, at the oldest commit seen adding it."""
    if commits == 0 or head_commit(git_dir) is None:
        return []
    hashes = run_git(git_dir, "log", f"-n{commits}", "--format=%H", "HEAD").decode().split()
    seen: dict[tuple[str, str | None], Finding] = {}
    for commit in hashes:  # newest first: an older commit replaces a newer one
        for finding in _commit_secrets(git_dir, commit):
            seen[(finding.kind, finding.masked)] = finding
    return list(seen.values())


def _commit_secrets(git_dir: Path, commit: str) -> list[Finding]:
    diff = run_git(
        git_dir,
        "diff-tree", "-r", "--root", "-p", "-U0", "--no-commit-id", "--no-color",
        "--no-ext-diff", "--no-textconv", "--no-renames", commit,
    )  # fmt: skip
    found: list[Finding] = []
    path, line = "", 0
    for raw in diff.splitlines():
        if raw.startswith(b"+++ "):
            name = raw[4:].decode("utf-8", "replace")
            path = name[2:] if name.startswith("b/") else name
        elif match := _HUNK.match(raw):
            line = int(match.group(1))
        elif raw.startswith(b"+") and path != "/dev/null":
            text = raw[1:].decode("utf-8", "replace")
            for hit in secrets_in(text):
                found.append(
                    Finding("history-secret", hit.kind, f"{path}:{line}", hit.masked, commit[:12])
                )
            line += 1
    return found


def audit_requirements(requirements: dict[str, str]) -> dict[str, Any]:
    """Advisories from a local pip-audit for the tracked requirements files; never
    installs pip-audit nor the requirements (--no-deps --disable-pip)."""
    program = shutil.which("pip-audit")
    if program is None:
        return {"status": "pip-audit not installed"}
    if not requirements:
        return {"status": "no requirements*.txt file tracked"}
    results: dict[str, Any] = {"status": "ran", "files": {}}
    for path, text in requirements.items():
        results["files"][path] = _pip_audit(program, text)
    return results


def _pip_audit(program: str, text: str) -> Any:
    import json

    with tempfile.TemporaryDirectory() as folder:  # a copy: pip-audit never sees the workspace
        copy = Path(folder) / "requirements.txt"
        copy.write_text(text)
        try:
            done = subprocess.run(
                [program, "-r", str(copy), "--no-deps", "--disable-pip", "--format", "json",
                 "--progress-spinner", "off"],
                capture_output=True, text=True, timeout=PIP_AUDIT_TIMEOUT, cwd=folder, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"error": f"pip-audit did not run: {type(exc).__name__}"}
    try:
        data = json.loads(done.stdout)
    except ValueError:
        said = done.stderr.strip().splitlines()
        return {"error": f"pip-audit failed: {said[-1] if said else done.returncode}"}
    vulnerable = [
        {"name": d["name"], "version": d.get("version"), "vulns": [v["id"] for v in d["vulns"]]}
        for d in data.get("dependencies", [])
        if d.get("vulns")
    ]
    return {"vulnerable": vulnerable}


def sweep_or_error(root: Path, history_commits: int) -> dict[str, Any]:
    try:
        return sweep(root, history_commits)
    except GitError as exc:
        return {"error": str(exc)}
