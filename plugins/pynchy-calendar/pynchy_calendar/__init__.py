"""pynchy-calendar: the user's CalDAV calendars as MCP tools for pynchy's agents.

Registered through the `pynchy` entry point group as `calendar` (pynchy_calendar.plugin):
an MCP server (`python -m pynchy_calendar.server`) that the host runs with the CalDAV
credentials in its environment; agents see `mcp__calendar__list_events` and the others.
"""

from __future__ import annotations

__version__ = "0.1.0"
