"""The plugin object pynchy loads through the `pynchy` entry point group: the email MCP
server, run by the host, and the offline check `pynchy doctor` shows."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pynchy_cli import McpServer, Problem, hookimpl
from pynchy_email.config import NAME, check, doctor_problems, server_env, usable_sides

if TYPE_CHECKING:
    from pynchy_cli import RegisterMcpServer, Settings

__all__ = ["TOOL_FLAGS", "email_server", "pynchy_doctor", "pynchy_mcp_servers"]

# The lethal trifecta, per tool: mail is private and written by anyone; sending reaches
# the world. After a run read mail, sending needs a person even where it would not.
# (Each tool's tier comes from its MCP annotations in server.py.)
TOOL_FLAGS = {
    "list_folders": ["secret_data"],
    "search_messages": ["untrusted_input", "secret_data"],
    "read_message": ["untrusted_input", "secret_data"],
    "mark_message": [],
    "send_email": ["public_sink"],
    "reply_email": ["public_sink"],
}


def email_server(settings: Settings, environ: Mapping[str, str] | None = None) -> McpServer | None:
    """The factory pynchy calls with the Settings when it works out a run's servers: the
    MCP server, with [plugin.email] and the EMAIL_* variables (which win) in its
    environment, on the host. None unless reading (IMAP) or sending (SMTP) is set up, so
    no run gets tools that could only fail (doctor says what to set); with one side only,
    the other's tools answer what to set."""
    table = settings.plugin.get(NAME, {})
    values, _ = check(table, os.environ if environ is None else environ)
    if not usable_sides(values):
        return None
    return McpServer(
        name=NAME,
        command=[sys.executable, "-m", "pynchy_email.server"],
        env=server_env(values),
        groups=table.get("groups"),  # McpServer refuses what is not a list; pynchy warns
        tool_flags=TOOL_FLAGS,
        description="the user's email: IMAP to read, SMTP to send",
    )


@hookimpl
def pynchy_mcp_servers(register: RegisterMcpServer) -> None:
    register(NAME, email_server)


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    return [Problem(NAME, what, fix, kind="mcp") for what, fix in doctor_problems(settings)]
