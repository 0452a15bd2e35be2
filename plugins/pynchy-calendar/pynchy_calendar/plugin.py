"""The plugin object pynchy loads through the `pynchy` entry point group: the calendar's
MCP server, run by the host, and the offline check `pynchy doctor` shows."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pynchy_calendar.config import NAME, check, doctor_problems, fatal, server_env
from pynchy_cli import McpServer, Problem, hookimpl

if TYPE_CHECKING:
    from pynchy_cli import RegisterMcpServer, Settings

__all__ = ["calendar_server", "pynchy_doctor", "pynchy_mcp_servers"]


def calendar_server(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> McpServer | None:
    """The factory pynchy calls with the Settings when it works out a run's servers: the
    MCP server, with [plugin.calendar] and the CALDAV_* variables (which win) in its
    environment, on the host. None without a URL or login, so no run gets calendar tools
    that could only fail (doctor says what to set). `groups` that is not a list of names
    is refused by McpServer, and pynchy warns."""
    table = settings.plugin.get(NAME, {})
    values, problems = check(table, os.environ if environ is None else environ)
    if fatal(problems):
        return None
    return McpServer(
        name=NAME,
        command=[sys.executable, "-m", "pynchy_calendar.server"],
        env=server_env(values),
        groups=table.get("groups"),
        # Each tool's tier comes from its MCP annotations (server.py). Calendars hold
        # private data: after reading one, a run needs a person to write anywhere public.
        flags=["secret_data"],
        description="the user's calendars (CalDAV)",
    )


@hookimpl
def pynchy_mcp_servers(register: RegisterMcpServer) -> None:
    register(NAME, calendar_server)


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    return [Problem(NAME, what, fix, kind="mcp") for what, fix in doctor_problems(settings)]
