"""The code simplifier's state and its one write: a rotating log of audited files, and
proposals committed on a branch of their own.

The log (.pynchy/simplifier-log.jsonl in the repository, one JSON object a line: path,
blob, audited_at, note) says which version of each file was last audited, by its git blob
hash at HEAD: a file is offered again only once its committed content changed. Files are
read from git's objects, never from the working tree. A proposal is a commit on
`pynchy/simplify-YYYYMMDD` built with a temporary index (hash-object, write-tree,
commit-tree, update-ref): the checked-out branch, the working tree and the user's index
stay as they were, and nothing is ever pushed.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pynchy_cli.core.periodic.shipped.safe_git import (
    HEX40,
    GitError,
    checked_git_dir,
    head_commit,
    read_blob,
    run_git,
    tracked_blobs,
    tree_files,
)
from pynchy_cli.core.workspace_files import UnsafePath, read_text, write_file

LOG_PATH = ".pynchy/simplifier-log.jsonl"
MAX_LOG_BYTES = 2_000_000
MAX_LOG_LINES = 2000  # past this, the log keeps one line per tracked file
MAX_CONTENT = 20_000  # bytes of a file shown to the agent
BRANCH_PREFIX = "pynchy/simplify-"
AUTHOR = {
    "GIT_AUTHOR_NAME": "pynchy code-simplifier",
    "GIT_AUTHOR_EMAIL": "pynchy@localhost",
    "GIT_COMMITTER_NAME": "pynchy code-simplifier",
    "GIT_COMMITTER_EMAIL": "pynchy@localhost",
}
# What is worth simplifying: source and config text, not data or lock files.
SOURCE_SUFFIXES = {
    ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".rb", ".java", ".kt", ".c", ".h",
    ".cc", ".cpp", ".hpp", ".cs", ".php", ".sh", ".lua", ".swift", ".scala", ".sql",
}  # fmt: skip


def read_log(root: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """path -> its latest log entry, and warnings (a refused or garbled log)."""
    try:
        text, cut = read_text(root, LOG_PATH, max_bytes=MAX_LOG_BYTES)
    except FileNotFoundError:
        return {}, []
    except UnsafePath as exc:
        return {}, [f"{LOG_PATH} not read ({exc.problem}): every file counts as not audited"]
    latest: dict[str, dict[str, Any]] = {}
    bad = 0
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and HEX40.match(str(entry.get("blob", "")))
        ):
            latest[entry["path"]] = entry
        else:
            bad += 1
    warnings = [f"{LOG_PATH}: {bad} lines not understood, left out"] if bad else []
    if cut:
        warnings.append(f"{LOG_PATH} is longer than {MAX_LOG_BYTES} bytes: its end not read")
    return latest, warnings


def _candidates(root: Path) -> tuple[Path, dict[str, str]]:
    git_dir = checked_git_dir(root)
    head = head_commit(git_dir)
    if head is None:
        raise GitError("the repository has no commits yet")
    blobs = tracked_blobs(git_dir, head)
    return git_dir, {p: b for p, b in blobs.items() if Path(p).suffix in SOURCE_SUFFIXES}


def next_files(root: Path, count: int = 3) -> dict[str, Any]:
    """The next files to audit: never audited first, then changed since their audit."""
    git_dir, blobs = _candidates(root)
    log, warnings = read_log(root)
    new = [p for p in sorted(blobs) if p not in log]
    changed = [p for p in sorted(blobs) if p in log and log[p]["blob"] != blobs[p]]
    chosen = (new + changed)[: max(1, min(count, 20))]
    files = []
    for path in chosen:
        data, cut = read_blob(git_dir, blobs[path], MAX_CONTENT)
        files.append(
            {
                "path": path,
                "blob": blobs[path],
                "reason": "not audited yet" if path in new else "changed since its audit",
                "content": data.decode("utf-8", "replace"),
                "cut": cut,
            }
        )
    return {
        "files": files,
        "left_after_these": len(new) + len(changed) - len(chosen),
        "unchanged_skipped": len(blobs) - len(new) - len(changed),
        "warnings": warnings,
    }


def record_audited(root: Path, paths: list[str], note: str = "") -> dict[str, Any]:
    """Log these files as audited at their HEAD blob; the log is rewritten with one line
    per tracked file when it grows past MAX_LOG_LINES."""
    _, blobs = _candidates(root)
    log, warnings = read_log(root)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    recorded, unknown = [], []
    for path in paths:
        if path not in blobs:
            unknown.append(path)
            continue
        log[path] = {"path": path, "blob": blobs[path], "audited_at": now, "note": note[:500]}
        recorded.append(path)
    kept = [entry for path, entry in sorted(log.items()) if path in blobs][-MAX_LOG_LINES:]
    text = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in kept)
    write_file(root, LOG_PATH, text, make_folders=True)
    _exclude_log(root)
    return {"recorded": recorded, "not_tracked": unknown, "warnings": warnings}


def _exclude_log(root: Path) -> None:
    """.pynchy/ in .git/info/exclude, so the log never shows in the user's git status."""
    try:
        text, _ = read_text(root, ".git/info/exclude", max_bytes=100_000)
    except FileNotFoundError:
        text = ""
    except UnsafePath:
        return
    if "/.pynchy/" not in text.splitlines():
        addition = ("" if not text or text.endswith("\n") else "\n") + "/.pynchy/\n"
        write_file(root, ".git/info/exclude", text + addition, make_folders=True)


def branch_name(now: datetime | None = None) -> str:
    return BRANCH_PREFIX + (now or datetime.now(UTC)).strftime("%Y%m%d")


def propose_change(root: Path, path: str, content: str, message: str) -> dict[str, Any]:
    """Commit `content` as `path` on today's simplify branch (started from HEAD)."""
    git_dir = checked_git_dir(root)
    branch = branch_name()
    ref = f"refs/heads/{branch}"
    checked_out = run_git(git_dir, "symbolic-ref", "-q", "HEAD", check=False).decode().strip()
    if checked_out == ref:
        raise GitError(f"{branch} is checked out: switch to another branch first")
    tip = run_git(git_dir, "rev-parse", "--verify", "--quiet", ref, check=False).decode().strip()
    parent = tip if HEX40.match(tip) else head_commit(git_dir)
    if parent is None:
        raise GitError("the repository has no commits yet")
    modes = {p: mode for p, (mode, _) in tree_files(git_dir, parent).items()}
    if path not in modes:
        raise GitError(f"{path} is not a tracked file: proposals change existing files only")
    with tempfile.TemporaryDirectory() as folder:
        index = {"GIT_INDEX_FILE": os.path.join(folder, "index")}
        run_git(git_dir, "read-tree", parent, env=index)
        blob = (
            run_git(git_dir, "hash-object", "-w", "--no-filters", "--stdin", input=content.encode())
            .decode()
            .strip()
        )
        run_git(git_dir, "update-index", "--cacheinfo", f"{modes[path]},{blob},{path}", env=index)
        tree = run_git(git_dir, "write-tree", env=index).decode().strip()
    if tree == run_git(git_dir, "rev-parse", f"{parent}^{{tree}}").decode().strip():
        return {"branch": branch, "commit": None, "note": f"{path} is already like that"}
    commit = run_git(
        git_dir, "commit-tree", tree, "-p", parent, "--no-gpg-sign", "-F", "-",
        input=(message.strip() or f"Simplify {path}").encode(), env=AUTHOR,
    ).decode().strip()  # fmt: skip
    run_git(git_dir, "update-ref", ref, commit, tip if HEX40.match(tip) else "0" * 40)
    return {"branch": branch, "commit": commit[:12], "path": path, "pushed": False}
