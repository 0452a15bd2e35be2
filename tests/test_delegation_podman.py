"""A delegate in real podman containers: the parent and its delegate each run in their own
container, both models answered by the fake Anthropic server through the host socket, and
the parent's next request carries the delegate's answer as the tool result."""

from __future__ import annotations

import json

import pytest
from fakes.anthropic_server import AnthropicServer
from test_agent_podman import ANTHROPIC_KEY, podman  # noqa: F401 (the autouse fixture)

pytestmark = pytest.mark.podman


def test_delegate_in_its_own_container(cli, monkeypatch, pynchy_home):
    with AnthropicServer(key=ANTHROPIC_KEY) as server:
        server.reply_tool_use("delegate", {"task": "name a prime", "context": "small ones"})
        server.reply_text("7 is prime")  # the delegate's only turn
        server.reply_text("the delegate said 7")
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        result = cli("agent", "run", "--model", "anthropic:claude-sonnet-5-5", "ask a helper")
        assert result.exit_code == 0, result.output
        assert "the delegate said 7" in result.stdout
        parent_first, child_first, parent_second = server.requests
        assert "delegate" in [t["name"] for t in parent_first.body["tools"]]
        assert child_first.body["messages"][0]["content"][0]["text"].startswith("name a prime")
        results = [
            b
            for m in parent_second.body["messages"]
            for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        assert json.dumps(results).count("7 is prime") == 1
    child, root = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    assert (child["parent_run_id"], child["link"], child["runtime"]) == (
        root["id"],
        "delegate",
        "podman",
    )
    traced = json.loads(cli("agent", "trace", root["id"], "--json").stdout)
    assert traced["children"][0]["result"] == "7 is prime"
    assert child["id"] != root["id"] and traced["run"]["container"].endswith(root["id"])
