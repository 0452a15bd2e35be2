"""The plugin object pynchy loads through the `pynchy` entry point group: the browser's
MCP server, the hook that tells it which run a call belongs to, and the offline check
`pynchy doctor` shows (settings, the container command, the image)."""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING, Any

from pynchy_browser.config import NAME, doctor_problems, load_config
from pynchy_browser.image import build_hint, image_state
from pynchy_browser.stamp import FIELD, KEY_ENV, RunStamp, issue, new_key
from pynchy_cli import ConfigError, McpServer, Problem, hookimpl

if TYPE_CHECKING:
    from pynchy_cli import RegisterMcpServer, RunInfo, Settings

__all__ = ["browser_server", "pynchy_before_tool", "pynchy_doctor", "pynchy_mcp_servers"]

TOOL_PREFIX = f"mcp__{NAME}__"
# The first call may build the image (chromium via apt, a minute or more); every browser
# action inside is bounded on its own (a page load 30 s, a DevTools command 30 s).
CALL_TIMEOUT = 900.0
# Made once per host process; the servers this process starts get it in their environment,
# and the hook below signs each call's run with it (stamp.py).
_KEY = new_key()


def browser_server(settings: Settings) -> McpServer:
    """The factory pynchy calls with the Settings when it works out a run's servers.
    ConfigError for wrong [plugin.browser] settings: pynchy leaves the server out and warns."""
    table = settings.plugin.get(NAME, {})
    config = load_config(table)
    # A page is untrusted input, whatever the tool; click and fill write to the world, a
    # public sink by their annotations. guard_open makes open one too: a URL carries data.
    guarded = {"open": ["untrusted_input", "public_sink"]} if config.guard_open else {}
    return McpServer(
        NAME,
        command=[sys.executable, "-m", "pynchy_browser.server"],
        env={**config.server_env(), KEY_ENV: _KEY},
        groups=table.get("groups"),
        flags=["untrusted_input"],
        tool_flags=guarded,
        timeout=CALL_TIMEOUT,
        description="a headless web browser in a container of its own",
    )


@hookimpl
def pynchy_mcp_servers(register: RegisterMcpServer) -> None:
    register(NAME, browser_server)


@hookimpl
def pynchy_before_tool(run: RunInfo, tool: str, arguments: dict[str, Any]) -> dict | None:
    """Stamp each browser call with its run, group and workspace (replacing any stamp an
    agent sent itself); other tools pass untouched."""
    if not tool.startswith(TOOL_PREFIX):
        return None
    stamp = RunStamp(run.run_id, run.group, str(run.folder))
    return {**arguments, FIELD: issue(_KEY, stamp)}


pynchy_before_tool.tools = (TOOL_PREFIX,)  # only the browser's own calls


def _setup_problems(table: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        config = load_config(table)
    except ConfigError:
        return []  # doctor_problems says what is wrong with the settings
    if shutil.which(config.engine) is None:
        return [
            (
                f"browser: the container command {config.engine!r} is not installed",
                "Install podman (apt-get install podman) or set engine in [plugin.browser]",
            )
        ]
    state = image_state(config.engine, config.image)
    if state == "missing":
        return [(f"browser: the image {config.image} is not built", build_hint(config.image))]
    if state == "stale":
        what = f"browser: the image {config.image} is from an older pynchy-browser"
        return [(what, build_hint(config.image))]
    return []


@hookimpl
def pynchy_doctor(settings: Settings) -> list[Problem]:
    table = dict(settings.plugin.get(NAME, {}))
    problems = doctor_problems(table) + _setup_problems(table)
    return [Problem(NAME, what, fix, kind="mcp") for what, fix in problems]
