"""Templates: the tests a scaffolded plugin comes with (they pass once it is installed)."""

# ruff: noqa: E501

CONFTEST = '''\
"""Helpers for the tests of $dist."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pynchy_cli import testing

# Every test: its own PYNCHY_HOME, none of the user's ${env}_* variables.
pynchy_home = testing.isolation_fixture("${env}_")


@pytest.fixture
def pynchy(tmp_path):
    """Run the pynchy CLI of this environment in a temporary PYNCHY_HOME."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PYNCHY_")}
        clean["PYNCHY_HOME"] = str(tmp_path / "pynchy-home")
        return subprocess.run(
            [sys.executable, "-m", "pynchy_cli", *args],
            capture_output=True,
            text=True,
            env={**clean, **(env or {})},
        )

    return run


@pytest.fixture
def registered():
    """What a registration hook registers: the argument tuples it passes to register."""

    def collect(hook) -> list[tuple]:
        calls: list[tuple] = []
        hook(lambda *args: calls.append(args))
        return calls

    return collect
'''

TESTS_COMMON = '''\
"""Tests for $dist. They pass once the plugin is installed into pynchy's environment:

    pynchy plugin install ./$dist && python -m pytest $dist/tests

(with the python of that environment).
"""

from __future__ import annotations

'''

TESTS_DISCOVERY = """

def test_pynchy_discovers_the_plugin(pynchy):
    done = pynchy("plugin", "info", "$name", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["status"] == "enabled", info
    assert "$kind" in info["kinds"]
"""

TESTS = {
    "runtime": """\
import json

import pytest
from pynchy_cli import ContainerSpec, Mount, UnavailableError

from $module import ${cls}Runtime, pynchy_runtimes

SPEC = ContainerSpec(
    name="pynchy-main-r1",
    image="agent:latest",
    command=["python", "-m", "agent"],
    env={"A": "1"},
    mounts=[Mount("/host/ws", "/workspace"), Mount("/host/mem", "/memory", read_only=True)],
    cpus=2.0,
    memory="1g",
)


def test_registers_the_runtime(registered):
    assert [args[0] for args in registered(pynchy_runtimes)] == ["$name"]


def test_the_run_command_line_confines_the_container():
    argv = ${cls}Runtime("nerdctl").run_argv(SPEC)
    assert argv[:3] == ["nerdctl", "run", "--detach"]
    assert argv[-4:] == ["agent:latest", "python", "-m", "agent"]
    assert argv[argv.index("--network") + 1] == "none"
    assert "/host/mem:/memory:ro" in argv and "/host/ws:/workspace" in argv
    assert "A=1" in argv and "pynchy.run=pynchy-main-r1" in argv


def test_a_missing_engine_is_one_clear_error():
    with pytest.raises(UnavailableError, match="not installed"):
        ${cls}Runtime("no-such-engine-here").start(SPEC)
""",
    "channel": """\
import asyncio
import json

from pynchy_cli import Problem, testing

from $module import ${cls}Channel, pynchy_channels, pynchy_doctor

FAMILY = testing.make_group("family", "c1", channel="$name")


def test_registers_the_channel(registered):
    assert [args[0] for args in registered(pynchy_channels)] == ["$name"]


def test_messages_in_and_replies_out():
    host = testing.FakeChannelHost(FAMILY)  # pynchy's side, in memory

    async def scenario():
        async with testing.started(${cls}Channel(), host) as channel:
            routed = [
                await channel.deliver("c1", "ana", "hi", platform_id="m1"),
                await channel.deliver("zz", "bo", "x"),  # no group is mapped to zz
                await channel.deliver("c1", "ana", "hi", platform_id="m1"),  # redelivered
            ]
            await channel.send(FAMILY, "hello", key="k1", kind="assistant")
            await channel.send(FAMILY, "hello", key="k1", kind="assistant")  # a retry
            return channel, routed

    channel, routed = asyncio.run(scenario())
    assert routed == [True, False, False]
    assert host.contents("family") == ["hi"] and host.duplicates == 1
    assert channel.outbox == [{"key": "k1", "chat_id": "c1", "kind": "assistant", "text": "hello"}]


def test_doctor_says_what_to_set():
    [problem] = pynchy_doctor(testing.plugin_settings("$name"))
    assert problem == Problem("$name", "$name: no token", problem.fix)
    assert "${env}_TOKEN" in problem.fix
    assert pynchy_doctor(testing.plugin_settings("$name", {"token": "t0k"})) == []
""",
    "agent_core": """\
import asyncio
import json

from $module import ${cls}Core, pynchy_agent_cores


def test_registers_the_provider(registered):
    assert [args[0] for args in registered(pynchy_agent_cores)] == ["$name"]


def test_answers_one_turn():
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]
    result = asyncio.run(
        ${cls}Core("m1").complete(system="", messages=messages, tools=[], max_tokens=100)
    )
    assert result.content == [{"type": "text", "text": "$name (m1) heard: hi there"}]
    assert result.stop_reason == "end_turn" and result.usage.output_tokens > 0


def test_an_agent_run_uses_it(pynchy):
    run = ["agent", "run", "--runtime", "process", "--model", "$name:m1", "hello"]
    done = pynchy(*run, env={"PYNCHY_ALLOW_PROCESS_RUNTIME": "true"})
    assert done.returncode == 0, done.stderr
    assert "$name (m1) heard: hello" in done.stdout
""",
    "mcp": """\
import asyncio
import json

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from $module import pynchy_mcp_servers


def test_registers_the_server(registered):
    [(server,)] = registered(pynchy_mcp_servers)
    assert server.name == "$name" and server.risk == "read"


def test_the_server_answers_over_stdio(registered):
    [(server,)] = registered(pynchy_mcp_servers)

    async def call():
        params = StdioServerParameters(command=server.command[0], args=server.command[1:])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("word_count", {"text": "one two three"})
            return [tool.name for tool in tools.tools], result

    names, result = asyncio.run(call())
    assert "word_count" in names
    assert not result.is_error
    assert "3" in result.content[0].text
""",
    "skill": """\
import json

from $module import pynchy_skills


def test_registers_a_skill_folder_with_front_matter(registered):
    [(folder,)] = registered(pynchy_skills)
    text = (folder / "SKILL.md").read_text()
    assert text.startswith("---\\nname: $name\\n") and "\\ndescription: " in text


def test_pynchy_lists_the_skill(pynchy):
    info = json.loads(pynchy("plugin", "info", "$name", "--json").stdout)
    assert info["registered"]["skills"] == ["$name"]
""",
    "hook": """\
import json
from types import SimpleNamespace

from $module import pynchy_before_run, pynchy_before_tool


def run(**plugin_settings):
    settings = SimpleNamespace(plugin={"$name": plugin_settings} if plugin_settings else {})
    return SimpleNamespace(run_id="r1", group="main", settings=settings)


def test_allows_runs_and_harmless_commands():
    assert pynchy_before_run(run()) is None
    assert pynchy_before_tool(run(), "bash", {"command": "ls -la"}) is None
    assert pynchy_before_tool(run(), "read_file", {"path": "/"}) is None


def test_refuses_blocked_commands():
    assert "not allowed" in pynchy_before_tool(run(), "bash", {"command": "rm -rf / --x"})
    custom = run(blocked=["curl"])
    assert pynchy_before_tool(custom, "bash", {"command": "curl example.org"})
    assert pynchy_before_tool(custom, "bash", {"command": "mkfs /dev/sda"}) is None
""",
    "commands": """\
import json

import typer
from typer.testing import CliRunner

from $module import pynchy_commands


def test_adds_a_command_group():
    root = typer.Typer()

    @root.callback()
    def main():
        pass

    pynchy_commands(root)
    result = CliRunner().invoke(root, ["$name", "hello", "Ana"])
    assert result.exit_code == 0, result.output
    assert "hello Ana, from $name" in result.output


def test_pynchy_has_the_command(pynchy):
    done = pynchy("$name", "hello", "Ana")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello Ana, from $name"
""",
}
