"""The browser's settings, from `[plugin.browser]` of config.toml, and what `pynchy doctor`
says about them. No credentials: the browser needs none.

    image         the browser image (default localhost/pynchy-browser:latest)
    base          the image it is built FROM (default localhost/pynchy-base:bookworm)
    engine        the container command (default podman)
    memory        the container's memory limit (default 1g)
    idle_timeout  seconds without use before a browser stops itself (default 600)
    network       the engine's --network for the browser (default: the engine's own, a
                  bridge: the web, but not the host's loopback); never host or container:*
    max_text      characters read_text answers at most per call (default 20000)
    window        the page's width,height in pixels (default 1280,800)
    guard_open    true: `open` also counts as a public sink (a URL can carry data out), so
                  after a run read untrusted content or secret data each open waits for a
                  person (default false)
    groups        the groups whose agents see the tools (default: every group)

The host-side MCP server gets them as JSON in PYNCHY_BROWSER_SETTINGS (server_env).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pynchy_cli import ConfigError, memory_bytes, plugin_table_problems

NAME = "browser"
SETTINGS_ENV = "PYNCHY_BROWSER_SETTINGS"
KNOWN = {
    "image",
    "base",
    "engine",
    "memory",
    "idle_timeout",
    "network",
    "max_text",
    "window",
    "guard_open",
    "groups",
    "enabled",
}
_WINDOW = re.compile(r"^\d{2,5},\d{2,5}$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=,/-]*$")


@dataclass(frozen=True)
class BrowserConfig:
    image: str = "localhost/pynchy-browser:latest"
    base: str = "localhost/pynchy-base:bookworm"
    engine: str = "podman"
    memory: str = "1g"
    idle_timeout: float = 600.0
    network: str | None = None
    max_text: int = 20_000
    window: str = "1280,800"
    guard_open: bool = False

    def server_env(self) -> dict[str, str]:
        return {SETTINGS_ENV: json.dumps(asdict(self))}


def _problems(table: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    where = f"[plugin.{NAME}]"
    for key in ("image", "base", "engine"):
        value = table.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            problems.append((f"browser: {where} {key} is not a name", f'{key} = "..."'))
    if "memory" in table:
        try:
            memory_bytes(str(table["memory"]))
        except ConfigError:
            problems.append((f"browser: {where} memory is not a size", 'memory = "1g"'))
    idle = table.get("idle_timeout", 600)
    if isinstance(idle, bool) or not isinstance(idle, int | float) or idle <= 0:
        problems.append((f"browser: {where} idle_timeout is not a positive number", "600"))
    most = table.get("max_text", 20_000)
    if isinstance(most, bool) or not isinstance(most, int) or not 1_000 <= most <= 200_000:
        problems.append((f"browser: {where} max_text is not 1000 to 200000", "20000"))
    if not _WINDOW.match(str(table.get("window", "1280,800"))):
        problems.append((f"browser: {where} window is not WIDTH,HEIGHT", 'window = "1280,800"'))
    if not isinstance(table.get("guard_open", False), bool):
        problems.append((f"browser: {where} guard_open is not true or false", "false"))
    network = table.get("network")
    if network is not None:
        text = str(network)
        if not _NETWORK.match(text) or text == "host" or text.startswith(("container:", "ns:")):
            problems.append(
                (
                    f"browser: {where} network {text!r} is not allowed",
                    "Leave it out (the engine's bridge) or name a network; host and"
                    " container:* would give the browser the host's or another's network",
                )
            )
    return problems + plugin_table_problems(NAME, table, KNOWN)


def load_config(table: Mapping[str, Any]) -> BrowserConfig:
    """The config from [plugin.browser]; ConfigError (one line and a hint) if it is wrong."""
    problems = [p for p in _problems(table) if "unknown setting" not in p[0]]
    if problems:
        raise ConfigError(*problems[0])
    values = {k: table[k] for k in KNOWN - {"groups", "enabled"} if k in table}
    if "memory" in values:
        values["memory"] = str(values["memory"])
    if "idle_timeout" in values:
        values["idle_timeout"] = float(values["idle_timeout"])
    return BrowserConfig(**values)


def server_config(environ: Mapping[str, str]) -> BrowserConfig:
    """The MCP server's side: the settings the factory put in its environment."""
    raw = environ.get(SETTINGS_ENV)
    return BrowserConfig(**json.loads(raw)) if raw else BrowserConfig()


def doctor_problems(table: Mapping[str, Any]) -> list[tuple[str, str]]:
    return _problems(table)
