"""A small real git repository for the shipped periodic agents' tests. Its planted secrets
are built at run time from pieces, so no secret-looking string is in this source; they
are made up and match a key format only."""

from __future__ import annotations

import subprocess
from pathlib import Path

FAKE_AWS_KEY = "AK" + "IA" + "FAKE" + "0123456789AB"  # the AWS key id format, not a key
FAKE_TOKEN = "".join(["Zx9q", "Lw3R", "tY7u", "P2mN", "8vB"])  # high entropy, made up

SETTINGS_PY = f"""import os

aws_key_id = "{FAKE_AWS_KEY}"
DEBUG = True
app.run(host="0.0.0.0", port=8000)
"""
UTIL_PY = """def is_set(x):
    if x == True:
        return True
    else:
        return False
"""


def git(repo: Path, *args: str) -> str:
    """git in the test's repository (as the test's user; the agent's uid may own it)."""
    return subprocess.run(
        ["git", "-c", "safe.directory=*", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def make_repo(repo: Path) -> Path:
    """app/settings.py (a key id, debug, 0.0.0.0), app/util.py, requirements.txt, and a
    token that a later commit removed (it stays in history)."""
    (repo / "app").mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "app" / "settings.py").write_text(SETTINGS_PY)
    (repo / "app" / "util.py").write_text(UTIL_PY)
    (repo / "requirements.txt").write_text("requests==2.0.0\n")
    commit_all(repo, "start")
    (repo / "app" / "old.cfg").write_text(f'api_token = "{FAKE_TOKEN}"\n')
    commit_all(repo, "add a config")
    (repo / "app" / "old.cfg").unlink()
    commit_all(repo, "remove the config")
    return repo
