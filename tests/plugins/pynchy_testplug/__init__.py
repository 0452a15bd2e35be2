"""A third-party plugin for the tests, installed through its entry point like any other.

It registers the reference MCP server `mcp-server-time` as "time", and a skill; its
lifecycle hooks, and the factory of a second time server "clock", do what
[plugin.testplug] in config.toml says:

    clock = "Asia/Tokyo"               the factory makes "clock" with that local timezone
    clock = "broken"                   the factory raises (unset: it makes no server)
    refuse_run = "reason"              before_run refuses the run
    refuse_tools = ["bash", ...]       before_tool refuses these tools
    rewrite = {tool = {arguments}}     before_tool replaces these tools' arguments
    raise_in = ["pynchy_after_tool"]   these hooks raise
    log = "/path/file.jsonl"           every hook call is appended here
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pynchy_cli import ConfigError, McpServer, hookimpl

SKILLS = Path(__file__).parent / "skills"


def _conf(run) -> dict:
    return run.settings.plugin.get("testplug", {})


def _record(run, hook: str, **data) -> None:
    conf = _conf(run)
    if conf.get("log"):
        with open(conf["log"], "a") as fh:
            fh.write(json.dumps({"hook": hook, "run_id": run.run_id, **data}, default=str) + "\n")
    if hook in conf.get("raise_in", []):
        raise RuntimeError(f"testplug breaks in {hook}")


def clock_server(settings):
    """The factory form: made from the settings of each run, None when not configured."""
    zone = settings.plugin.get("testplug", {}).get("clock")
    if zone == "broken":
        raise ConfigError("the clock is broken", "Unset clock in [plugin.testplug]")
    if not zone:
        return None
    command = [sys.executable, "-m", "mcp_server_time", "--local-timezone", zone]
    return McpServer("clock", command=command, risk="read")


@hookimpl
def pynchy_mcp_servers(register):
    register(McpServer("time", command=[sys.executable, "-m", "mcp_server_time"], risk="read"))
    register("clock", clock_server)


@hookimpl
def pynchy_skills(register):
    register(SKILLS / "plugin-skill")


@hookimpl
def pynchy_before_run(run):
    _record(run, "pynchy_before_run", group=run.group, prompt=run.prompt)
    return _conf(run).get("refuse_run")


@hookimpl
def pynchy_before_tool(run, tool, arguments):
    _record(run, "pynchy_before_tool", tool=tool, arguments=arguments)
    conf = _conf(run)
    if tool in conf.get("refuse_tools", []):
        return f"testplug does not allow {tool}"
    return conf.get("rewrite", {}).get(tool)


@hookimpl
def pynchy_after_tool(run, tool, arguments, result):
    _record(
        run,
        "pynchy_after_tool",
        tool=tool,
        arguments=arguments,
        content=result.content,
        is_error=result.is_error,
    )


@hookimpl
def pynchy_after_run(run, outcome):
    _record(run, "pynchy_after_run", status=outcome.status, error=outcome.error)


@hookimpl
def pynchy_on_error(run, error):
    _record(run, "pynchy_on_error", error=error)
