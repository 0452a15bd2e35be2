"""Structured, per-session JSONL logs of agent runs and serve (through `dossier`).

`run_log` / `serve_log` open a session folder under DATA/logs/sessions; `read_events`
and `error_groups` read them back. See docs/logs.md. The names load on first use: config
imports `core.logs.settings`, and that must not pull in the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pynchy_cli.core.logs.reading import ErrorGroup, error_groups, read_events
    from pynchy_cli.core.logs.sessions import SessionLog, prune_sessions, run_log, serve_log

_EXPORTS = {
    "ErrorGroup": "reading",
    "error_groups": "reading",
    "read_events": "reading",
    "SessionLog": "sessions",
    "prune_sessions": "sessions",
    "run_log": "sessions",
    "serve_log": "sessions",
}

__all__ = [
    "ErrorGroup",
    "SessionLog",
    "error_groups",
    "prune_sessions",
    "read_events",
    "run_log",
    "serve_log",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
