"""Helpers for the web page tests: a logged-in requests session against a real serve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests
from helpers import write_script
from servehelp import Serve

POLICY_SERVER = Path(__file__).parent / "fakes" / "mcp_policy_server.py"


def base_url(serve: Serve) -> str:
    return f"http://127.0.0.1:{serve.port}"


def log_in(serve: Serve) -> requests.Session:
    """A session logged in with the API token through the login form."""
    base = base_url(serve)
    session = requests.Session()
    answer = session.post(
        base + "/web/login",
        data={"token": serve.token},
        headers={"Origin": base},
        allow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return session


def csrf_of(session: requests.Session, serve: Serve, path: str = "/web/") -> str:
    html = session.get(base_url(serve) + path).text
    return re.search(r'name="pynchy-csrf" content="([0-9a-f]+)"', html).group(1)


def one_time_link(serve: Serve, *args: str) -> str:
    """`pynchy web` (its output is not a terminal: it prints the link only)."""
    done = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "web", "--no-open", *args],
        env=serve.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def approval_serve(root: Path) -> Serve:
    """A serve (not started) whose model calls a destructive-annotated MCP tool, which
    waits for a person, then says `finished`; `.calls` lists the calls that reached it."""
    home = root / "home"
    home.mkdir()
    calls = root / "calls.txt"
    (home / "config.toml").write_text(
        "[limits]\napproval_timeout = 300\n\n"
        f'[mcp.pol]\ncommand = ["{sys.executable}", "{POLICY_SERVER}"]\n'
        f'env = {{ CALLS_FILE = "{calls}" }}\n'
    )
    model = write_script(
        root / "s.json",
        [{"tool_calls": [{"name": "mcp__pol__wipe", "input": {}}]}, {"text": "finished"}],
    )
    serve = Serve(home, model=model, env={"PYNCHY_PLUGINS": ""})
    serve.calls = calls
    return serve
