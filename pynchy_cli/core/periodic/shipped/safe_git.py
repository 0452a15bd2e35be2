"""git on a repository the container can write, run by the host without obeying it.

A hostile agent controls everything in its workspace, .git included: a `core.fsmonitor`
or `diff.external` in .git/config, a clean filter in .gitattributes, a .git that is a
symlink or a `gitdir:` file pointing at another repository of the host, alternates that
borrow objects from one. So the host runs git here with no system or global config, with
the config keys that start programs overridden on the command line (which wins over the
repository's), with filters, textconv and external diffs turned off by the commands used,
and only on a .git that is a real folder with no symlink, `commondir` or alternates in it.
It never checks files out or touches the working tree or the real index.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from pynchy_cli.core.workspace_files import UnsafePath, folder_fd

TIMEOUT = 120  # seconds one git command may take
MAX_GIT_ENTRIES = 200_000  # a .git bigger than this is not walked (nor trusted)
HEX40 = re.compile(r"^[0-9a-f]{40}$")

# Keys a repository's config could use to make git start a program; each is set to
# something harmless here. Filters, textconv and diff drivers are per-name keys that
# cannot be listed: the commands below never apply them (--no-filters, --no-textconv,
# --no-ext-diff, no checkout).
_NEUTRAL_CONFIG = {
    "core.fsmonitor": "false",
    "core.hooksPath": os.devnull,
    "core.pager": "cat",
    "core.editor": "false",
    "core.askPass": "",
    "core.sshCommand": "false",
    "core.gitProxy": "",
    "core.untrackedCache": "false",
    "core.attributesFile": os.devnull,
    "diff.external": "",
    "commit.gpgSign": "false",
    "tag.gpgSign": "false",
    "credential.helper": "",
    "safe.directory": "*",  # the workspace belongs to the agent's uid, not ours
    "protocol.ext.allow": "never",
    "gc.auto": "0",  # never a background gc in a folder the agent owns
}


class GitError(Exception):
    """A git command that failed or a repository the host refuses, in one line."""


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment with no user config: HOME is an empty folder of our own."""
    home = tempfile.gettempdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_ATTR_NOSYSTEM": "1",
    }
    env.update(extra or {})
    return env


def git_command(*args: str) -> list[str]:
    neutral = [part for key, value in _NEUTRAL_CONFIG.items() for part in ("-c", f"{key}={value}")]
    return ["git", *neutral, *args]


def run_git(
    git_dir: Path,
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> bytes:
    """git ARGS on this .git folder (checked by `checked_git_dir`); its stdout."""
    extra = {"GIT_DIR": str(git_dir), **(env or {})}
    try:
        done = subprocess.run(
            git_command(*args),
            input=input,
            capture_output=True,
            env=git_env(extra),
            cwd=tempfile.gettempdir(),  # never the workspace
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0]} did not run: {type(exc).__name__}") from None
    if check and done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {said[-1] if said else done.returncode}")
    return done.stdout


def checked_git_dir(root: Path) -> Path:
    """root/.git when it is a real folder of a plain repository, else GitError (a symlink,
    a `gitdir:` file, a linked worktree, alternates, or a symlink anywhere inside)."""
    try:
        with folder_fd(root, ".git"):
            pass
    except FileNotFoundError:
        raise GitError("not a git repository (no .git folder)") from None
    except UnsafePath as exc:
        raise GitError(f"refused: {exc}") from None
    except NotADirectoryError:
        raise GitError(
            "refused: .git is not a folder (a gitdir file or a linked worktree)"
        ) from None
    git_dir = root / ".git"
    for name in ("commondir", "objects/info/alternates", "objects/info/http-alternates"):
        if os.path.lexists(git_dir / name):
            raise GitError(f"refused: .git/{name} borrows from another repository")
    _no_symlinks(git_dir)
    return git_dir


def _no_symlinks(git_dir: Path) -> None:
    seen = 0
    pending = [str(git_dir)]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                seen += 1
                if seen > MAX_GIT_ENTRIES:
                    raise GitError("refused: .git has too many entries to check")
                if entry.is_symlink():
                    rel = os.path.relpath(entry.path, git_dir.parent)
                    raise GitError(f"refused: {rel} is a symlink")
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)


def head_commit(git_dir: Path) -> str | None:
    """The commit HEAD names, None in a repository without commits."""
    out = run_git(git_dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    text = out.decode().strip()
    return text if HEX40.match(text) else None


def tree_files(git_dir: Path, commit: str) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob hash) of the regular files in a commit (symlinks and submodules
    left out)."""
    out = run_git(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit)
    files: dict[str, tuple[str, str]] = {}
    for record in out.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        if not meta:
            continue
        mode, kind, blob = meta.decode().split()
        if kind == "blob" and mode in ("100644", "100755"):
            files[path.decode("utf-8", "replace")] = (mode, blob)
    return files


def tracked_blobs(git_dir: Path, commit: str) -> dict[str, str]:
    return {path: blob for path, (_, blob) in tree_files(git_dir, commit).items()}


def read_blob(git_dir: Path, blob: str, max_bytes: int) -> tuple[bytes, bool]:
    """(content, cut): a blob's first `max_bytes`, without filters or textconv."""
    if not HEX40.match(blob):
        raise GitError(f"not a blob hash: {blob!r}")
    data = run_git(git_dir, "cat-file", "blob", blob)
    return data[:max_bytes], len(data) > max_bytes
