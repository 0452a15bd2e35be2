"""Periodic agents: declared in config (`[periodic.NAME]`) or shipped, each due time run
once by whoever gets to it first (serve's scheduler or `pynchy agent run --periodic NAME`).
See docs/periodic.md."""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use: loading the plugins (as `pynchy --help` does) imports
# core.periodic.shipped, which must not bring the database and the config along.
_EXPORTS = {
    "PeriodicAgent": "pynchy_cli.core.periodic.definition",
    "get_periodic": "pynchy_cli.core.periodic.loading",
    "load_periodic": "pynchy_cli.core.periodic.loading",
    "recent_periodic_runs": "pynchy_cli.core.periodic.runs",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
