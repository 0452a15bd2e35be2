"""The plugin object pynchy loads through the `pynchy` entry point group: the MCP server
with the X tools, and the offline check `pynchy doctor` shows."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pynchy_cli import McpServer, Problem, hookimpl
from pynchy_x.config import NAME, PUBLISHING_TOOLS, READING_TOOLS, doctor_problems, load_config

if TYPE_CHECKING:
    from pynchy_cli import RegisterMcpServer, Settings

__all__ = ["pynchy_doctor", "pynchy_mcp_servers", "x_server"]


def x_server(settings: Settings, environ: Mapping[str, str] | None = None) -> McpServer | None:
    """The factory pynchy calls with the Settings when it works out a run's servers: the
    MCP server `python -m pynchy_x.server`, with [plugin.x] and the X_* variables (which
    win) in its environment, on the host. None without credentials, so no agent gets
    tools that could only fail and no run starts the server to list them (`pynchy doctor`
    says what to set). Each tool's tier comes from its MCP annotations (reading: read;
    publishing: external, a person approves); `risk` is only the fallback for a tool
    without them. The trifecta flags are declared too: after a run read posts (untrusted
    input), publishing (a public sink) needs a person whatever the tier. `groups` that is
    not a list of names is refused by McpServer, and pynchy warns."""
    table = settings.plugin.get(NAME, {})
    config = load_config(table, environ)
    if not config.usable:
        return None
    return McpServer(
        NAME,
        command=[sys.executable, "-m", "pynchy_x.server"],
        env=config.server_env(),
        groups=table.get("groups"),
        risk="external",
        tool_flags={
            **{tool: ["untrusted_input"] for tool in READING_TOOLS},
            **{tool: ["public_sink"] for tool in PUBLISHING_TOOLS},
        },
    )


@hookimpl
def pynchy_mcp_servers(register: RegisterMcpServer) -> None:
    register(NAME, x_server)


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    return [Problem(NAME, what, fix, kind="mcp") for what, fix in doctor_problems(settings)]
