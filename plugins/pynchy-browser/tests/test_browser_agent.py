"""End to end: `pynchy agent run` in a real podman container (offline, as always) with a
scripted model, the installed plugin and a web site on the host's loopback. The host runs
the browser's MCP server, which starts the group's browser container: opening and reading
run at once, filling and clicking wait for a person, who answers on the terminal (a pty
here); the screenshot lands in the workspace, where the agent reads it; the agent's own
container cannot reach the site."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import container_of, gone
from site_server import HOST_FROM_BROWSER, TEST_NETWORK, Site

from pynchy_cli import testing

pytestmark = pytest.mark.podman

# Run inside the agent's container: the screenshot's first bytes, and whether the site
# (which the browser reached) can be reached from there.
PROBE = """python3 - <<'EOF'
import socket
print("header", open("/workspace/screenshots/thanks.png", "rb").read(4)[1:].decode())
try:
    socket.create_connection(("{host}", {port}), timeout=3)
    print("agent network: reached the site")
except OSError as exc:
    print("agent network: none", type(exc).__name__)
EOF"""


BROWSER = "mcp__browser__"


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "input": arguments}


def run_agent(home: Path, turns: list[dict[str, Any]], answers: str) -> list[tuple[str, str, bool]]:
    """`pynchy agent run` in podman with these scripted turns: (tool, content, is_error) of
    each tool result."""
    (home / "config.toml").write_text(f'[plugin.browser]\nnetwork = "{TEST_NETWORK}"\n')
    trace = testing.scripted_run(home, turns, runtime="podman", answers=answers, timeout=600)
    return [
        (e["data"]["name"], e["data"]["content"], e["data"]["is_error"])
        for e in trace["events"]
        if e["kind"] == "tool_result"
    ]


def approvals(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "pynchy.db") as db:
        return db.execute("select tool, status from approvals order by rowid").fetchall()


def test_an_agent_browses_with_approval_for_what_it_sends(
    browser_image: str, site: Site, pynchy_home: Path
):
    probe = PROBE.format(host=HOST_FROM_BROWSER, port=site.port)
    turns = [
        {"tool_calls": [call(BROWSER + "open", url=site.url + "/"), call(BROWSER + "read_text")]},
        {
            "tool_calls": [
                call(BROWSER + "fill", selector="#who", value="Ada"),
                call(BROWSER + "click", text="Order"),
            ]
        },
        {"tool_calls": [call(BROWSER + "screenshot", name="thanks")]},
        {"tool_calls": [call("bash", command=probe)]},
        {"text": "ordered"},
    ]
    results = run_agent(pynchy_home, turns, answers="y\ny\n")
    assert [(name, error) for name, _, error in results] == [
        (BROWSER + "open", False),
        (BROWSER + "read_text", False),
        (BROWSER + "fill", False),
        (BROWSER + "click", False),
        (BROWSER + "screenshot", False),
        ("bash", False),
    ], results
    assert "Fresh bread every morning." in results[1][1]
    assert site.orders == [{"who": "Ada", "loaf": "rye", "note": ""}]
    workspace = pynchy_home / "groups" / "main"
    assert (workspace / "screenshots" / "thanks.png").read_bytes().startswith(b"\x89PNG")
    assert "header PNG" in results[5][1] and "agent network: none" in results[5][1]
    # reading asked no one; what sends data to the site waited for a person
    assert approvals(pynchy_home) == [
        (BROWSER + "fill", "approved"),
        (BROWSER + "click", "approved"),
    ]
    assert gone(container_of(workspace)), "the browser goes with the run"


def test_a_denied_click_sends_nothing(browser_image: str, site: Site, pynchy_home: Path):
    turns = [
        {"tool_calls": [call(BROWSER + "open", url=site.url + "/")]},
        {"tool_calls": [call(BROWSER + "click", text="Order")]},
        {"text": "not ordered"},
    ]
    [_, (_, refused, is_error)] = run_agent(pynchy_home, turns, answers="n\n")
    assert is_error and "denied" in refused
    assert site.orders == [] and site.paths == ["/"]
    assert approvals(pynchy_home) == [(BROWSER + "click", "denied")]
