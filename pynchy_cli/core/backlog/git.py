"""The few git operations the backlog needs, through the `git` command itself."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.errors import ConflictError, PynchyError, UnavailableError, UsageError


class GitError(PynchyError):
    """A git command failed; the message is git's own first line."""


@dataclass(frozen=True)
class FileState:
    """What `git status` says about one path (relative to the repository root)."""

    index: str  # "." unchanged, "A" added, "M" modified, "R" renamed, "?" untracked, ...
    worktree: str
    origin: str | None = None  # for a staged rename, the path it came from
    score: int = 100  # rename similarity

    @property
    def untracked(self) -> bool:
        return self.index == "?"

    @property
    def dirty(self) -> bool:
        """Edits a move must not sweep along: unstaged, staged in place, or a changed rename."""
        if self.untracked or self.worktree != ".":
            return True
        return self.index in {"M", "T", "U"} or (self.index == "R" and self.score < 100)


def find_root(start: Path) -> Path:
    """The top of the git work tree holding `start` (which need not exist yet)."""
    if shutil.which("git") is None:
        raise UnavailableError("git is not installed", "Install git (e.g. apt-get install git)")
    probe = start.resolve()
    while not probe.exists():
        probe = probe.parent
    out = subprocess.run(
        ["git", "-C", str(probe), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise UsageError(
            f"{start} is not inside a git repository",
            "The backlog lives in git: run `git init` there first, or pass --dir with a folder "
            "inside a git repository",
        )
    return Path(out.stdout.strip()).resolve()


class Git:
    def __init__(self, root: Path):
        self.root = root

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, text=True, errors="replace"
        )
        if check and out.returncode != 0:
            detail = (out.stderr.strip() or out.stdout.strip() or "no output").splitlines()
            first = next((line for line in detail if line.startswith(("fatal", "error"))), None)
            message = (first or detail[0]).removeprefix("fatal: ").removeprefix("error: ")
            hint = "See `git status`"
            if "index.lock" in message:
                hint = "Another git process is running; wait for it and retry"
            elif "user.email" in out.stderr or "identity" in out.stderr:
                hint = 'Set who you are: git config user.name "..." && git config user.email ...'
            raise GitError(f"git {args[0]} failed: {message}", hint)
        return out

    # -- reading --------------------------------------------------------------------------

    def status(self, folder: Path) -> dict[str, FileState]:
        """Every changed or untracked path under `folder`, keyed by repo-relative path."""
        out = self.run(
            "status",
            "--porcelain=v2",
            "-z",
            "--renames",
            "--untracked-files=all",
            "--",
            str(folder),
        ).stdout
        states: dict[str, FileState] = {}
        fields = out.split("\0")
        i = 0
        while i < len(fields):
            record = fields[i]
            i += 1
            if not record:
                continue
            kind = record[0]
            if kind == "?":
                states[record[2:]] = FileState("?", "?")
            elif kind == "1":
                parts = record.split(" ", 8)
                states[parts[8]] = FileState(parts[1][0], parts[1][1])
            elif kind == "2":
                parts = record.split(" ", 9)
                score = int(parts[8][1:] or 100)
                states[parts[9]] = FileState(parts[1][0], parts[1][1], fields[i], score)
                i += 1
            elif kind == "u":
                parts = record.split(" ", 10)
                states[parts[10]] = FileState("U", "U")
        return states

    def in_head(self, path: str) -> bool:
        return self.run("cat-file", "-e", f"HEAD:{path}", check=False).returncode == 0

    def head(self) -> str:
        return self.run("rev-parse", "--short", "HEAD").stdout.strip()

    # -- writing --------------------------------------------------------------------------

    def mv(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.run("mv", self.rel(source), self.rel(target))

    def add(self, *paths: Path) -> None:
        if paths:
            self.run("add", "--", *(self.rel(p) for p in paths))

    def commit(self, message: str, paths: list[str]) -> str:
        """Commit exactly these repo-relative paths (whatever else is staged stays staged)."""
        unique = list(dict.fromkeys(paths))
        self.run("commit", "--quiet", "-m", message, "--", *unique)
        return self.head()

    def require_clean(
        self, path: Path, states: dict[str, FileState], what: str
    ) -> FileState | None:
        """Refuse a path that is untracked or has edits; return its state (None when clean).

        `states` is `status()` of a folder holding the path: limited to the path alone, git
        would not see a staged rename's origin.
        """
        rel = self.rel(path)
        state = states.get(rel)
        if state is None:
            return None
        if state.untracked:
            raise ConflictError(
                f"{what} {rel} is not in git yet",
                f"Commit it first: git add {rel} && git commit",
            )
        if state.dirty:
            raise ConflictError(
                f"{what} {rel} has uncommitted changes",
                f"Commit or stash them first (git commit {rel}, or git stash), then retry",
            )
        return state
