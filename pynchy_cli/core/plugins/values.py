"""A plugin's settings as it reads them on the host: each from its environment variable
when that is set, else from the plugin's `[plugin.NAME]` table of config.toml.

    values = plugin_values(settings.plugin.get("calendar", {}), {"url": "CALDAV_URL"})
    values["url"]  # "https://dav.example.com/dav/", or None when neither gives one

An MCP server a plugin runs gets the values in its environment and calls it with an empty
table, so both sides read them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def plugin_values(
    table: Mapping[str, Any],
    variables: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """key -> its value for each key of `variables` (key -> environment variable), as text
    without surrounding blanks: the variable's when it is set and not blank, else the
    table's; None when neither has one."""
    environ = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    for key, variable in variables.items():
        text = (environ.get(variable) or "").strip()
        if not text and table.get(key) is not None:
            text = str(table[key]).strip()
        values[key] = text or None
    return values


def plugin_table_problems(
    name: str, table: Mapping[str, Any], known: set[str]
) -> list[tuple[str, str]]:
    """(what, fix) for what every plugin checks alike in its [plugin.NAME] table: `groups`
    (the groups whose agents see its tools) is a list of group names, and each key is one
    of `known`. For `pynchy doctor`."""
    problems = []
    groups = table.get("groups", [])
    if not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
        what = f"{name}: [plugin.{name}] groups is not a list of group names"
        problems.append((what, 'groups = ["main"]'))
    unknown = sorted(set(table) - known)
    if unknown:
        what = f"{name}: unknown setting [plugin.{name}] {', '.join(unknown)}"
        problems.append((what, f"Known settings: {', '.join(sorted(known))}"))
    return problems
