"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_script(path: Path, turns: list[dict[str, Any]], **options: Any) -> str:
    """A scripted model: each turn's text and tool calls, replayed in order from each run's
    start (options: replay="session" continues across the runs of a session)."""
    path.write_text(json.dumps({"turns": turns, **options}))
    return f"scripted:{path}"


def bash(command: str, **extra: Any) -> dict[str, Any]:
    return {"name": "bash", "input": {"command": command, **extra}}


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    """One tool call of a scripted model's turn: {"tool_calls": [call(...), ...]}."""
    return {"name": tool, "input": arguments}


def last_trace(cli: Any) -> dict[str, Any]:
    """The transcript of the newest run (`agent ps --all`, then `agent trace --json`)."""
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    return json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)


def tool_results(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["data"] for e in trace["events"] if e["kind"] == "tool_result"]


def files_holding(root: Path, needles: list[str], skip: tuple[Path, ...] = ()) -> list[str]:
    """Files under root (symlinks never followed, FIFOs and huge files left out) that
    contain one of `needles` or its last 16 characters."""
    import os
    import stat

    pieces = {p.encode() for n in needles for p in (n, n[-16:])}
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            info = path.lstat()
            if path in skip or not stat.S_ISREG(info.st_mode) or info.st_size > 50_000_000:
                continue
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}" for p in pieces if p in data][:1]
    return found


PODMAN_SOCKET = "/run/podman/podman.sock"


def require_podman() -> None:
    """Skip a test when podman is not serving; fail it with PYNCHY_TEST_REQUIRE_PODMAN=1."""
    import os

    import pytest

    from pynchy_cli.core.runtimes.detect import socket_answers

    if not socket_answers(PODMAN_SOCKET):
        if os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1":
            pytest.fail(f"podman is not serving on {PODMAN_SOCKET}")
        pytest.skip("podman is not serving (run scripts/setup-podman)")
