"""The shipped agents' MCP servers, registered like a plugin's (core.plugins.builtins).

Each server has its agent's name and runs on the host (`python -m
pynchy_cli.core.periodic.shipped.server NAME`). Its factory offers it to the groups of
the enabled periodic agents that list it in mcp_servers, and to no group while none does,
so a disabled agent's tools reach nobody. The servers that work on a repository map
workspace paths (`map_paths`): the agent names /workspace/..., the host resolves it inside
the group's folder and refuses anything outside, and the tools read below it only through
core.workspace_files. What a server needs from the host (the data folder, the upstream
repositories, whether each group's runs may use a network) is given in its environment,
never taken from the agent.
"""

from __future__ import annotations

import json
import os
import sys
from functools import partial
from typing import Any

from pynchy_cli.core.plugins.mcp import McpServer

SERVER_MODULE = "pynchy_cli.core.periodic.shipped.server"
ENV_CONFIG_DIR = "PYNCHY_SHIPPED_CONFIG_DIR"
ENV_DATA_DIR = "PYNCHY_SHIPPED_DATA_DIR"
ENV_REPOS = "PYNCHY_UPSTREAM_REPOS"
ENV_NETWORK = "PYNCHY_UPSTREAM_NETWORK"  # {group folder: "" or why it has no network}
UPSTREAM = "upstream-check"
TOOL_TIMEOUT = 600.0  # seconds: a sweep of a long history or a first clone takes a while

# name -> (sees a workspace, trifecta flags of all its tools, description)
SERVERS: dict[str, tuple[bool, list[str], str]] = {
    "security-sweep": (
        True,
        ["secret_data"],  # its results point at secrets, masked or not
        "security sweep of a repository in the workspace",
    ),
    "code-simplifier": (True, [], "the code simplifier's audit log and proposal branch"),
    UPSTREAM: (True, [], "what changed in the upstream repositories the user follows"),
    "log-recovery": (False, ["untrusted_input"], "errors of the day from pynchy's logs"),
    "health-report": (False, [], "pynchy's health report"),
}


def register_shipped_servers(register: Any) -> None:
    for name in SERVERS:
        register(name, partial(shipped_server, name))


def shipped_server(name: str, settings: Any) -> McpServer | None:
    """The server `name` for the groups of the enabled agents that use it; None if none."""
    from pynchy_cli.core.paths import resolve_paths
    from pynchy_cli.core.periodic.loading import load_periodic

    paths = resolve_paths()
    users = [
        agent
        for agent in load_periodic(settings, paths.config_dir).values()
        if agent.enabled and name in agent.mcp_servers
    ]
    if not users:
        return None
    workspace, flags, description = SERVERS[name]
    env = {ENV_CONFIG_DIR: str(paths.config_dir), ENV_DATA_DIR: str(paths.data_dir)}
    if name == UPSTREAM:
        env[ENV_REPOS] = json.dumps(upstream_repos(settings))
        env[ENV_NETWORK] = json.dumps(network_refusals(settings, paths, users))
    return McpServer(
        name=name,
        command=[sys.executable, "-m", SERVER_MODULE, name],
        env=env,
        cwd=str(paths.data_dir),  # `python -m` imports from its working folder: ours only
        groups=sorted({agent.group for agent in users}),
        map_paths=workspace,
        timeout=TOOL_TIMEOUT,
        flags=flags,
        description=description,
    )


def upstream_repos(settings: Any) -> list[str]:
    table = (getattr(settings, "plugin", None) or {}).get(UPSTREAM) or {}
    repos = table.get("repos") or []
    return [str(r) for r in repos if isinstance(r, str) and r.strip()]


def network_refusals(settings: Any, paths: Any, users: list[Any]) -> dict[str, str]:
    """Each user group's folder -> "" when its periodic run's security profile allows a
    network, else why not (the run's profile: the agent's, else the group's)."""
    from pynchy_cli.core.db import open_db
    from pynchy_cli.core.groups import find_group
    from pynchy_cli.core.policy.profiles import get_profile

    refusals: dict[str, str] = {}
    db = open_db(paths.database)
    try:
        groups = {agent.name: find_group(db, agent.group) for agent in users}
    finally:
        db.conn.close()
    for agent in users:
        group = groups[agent.name]
        if group is None:
            continue
        profile = get_profile(settings, agent.profile or group.profile)
        why = (
            ""
            if profile.network
            else (
                f"{agent.name} needs a security profile with a network to fetch a git URL: its runs"
                f" in group {group.name} use the profile {profile.name}, which has none. Set"
                f' profile = "default" (or another with network) in [periodic.{agent.name}], or'
                " list a local path instead"
            )
        )
        refusals[os.path.realpath(group.path)] = why
    return refusals
