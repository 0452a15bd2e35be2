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
