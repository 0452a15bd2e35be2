"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_script(path: Path, turns: list[dict[str, Any]]) -> str:
    """A scripted model: each turn's text and tool calls, replayed in order."""
    path.write_text(json.dumps({"turns": turns}))
    return f"scripted:{path}"


def bash(command: str, **extra: Any) -> dict[str, Any]:
    return {"name": "bash", "input": {"command": command, **extra}}


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
