"""The plugin without a browser: its settings, the server pynchy runs (flags, tiers from
annotations, a schema without the host's stamp), the stamp, doctor, the container's
command line and where screenshots may go."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import browser_tools, run_info, settings
from pynchy_browser import stamp as stamps
from pynchy_browser.config import BrowserConfig, doctor_problems, load_config, server_config
from pynchy_browser.container import container_name, run_argv
from pynchy_browser.plugin import browser_server, pynchy_before_tool, pynchy_doctor
from pynchy_browser.shots import ShotError, file_name, png_size, save

from pynchy_cli import ConfigError, DeniedError, testing

TOOLS = {"open", "read_text", "screenshot", "click", "fill"}


def test_the_server_pynchy_runs():
    server = browser_server(testing.plugin_settings("browser", {"groups": ["main"]}))
    assert server.command == [sys.executable, "-m", "pynchy_browser.server"]
    assert server.groups == ["main"] and server.flags == ["untrusted_input"]
    assert server.tool_flags == {}  # click and fill: public sink by their annotations
    assert server_config(server.env) == BrowserConfig()
    assert len(server.env[stamps.KEY_ENV]) == 64
    guarded = browser_server(testing.plugin_settings("browser", {"guard_open": True}))
    assert guarded.tool_flags == {"open": ["public_sink", "untrusted_input"]}


def test_the_tools_their_hints_and_no_stamp_in_their_schemas(tmp_path: Path):
    async def listed():
        async with browser_tools(tmp_path) as (session, _):
            return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in asyncio.run(listed())}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        hints = tool.annotations
        assert hints.open_world_hint is True, name
        assert hints.read_only_hint is (name in {"open", "read_text", "screenshot"}), name
        if not hints.read_only_hint:
            assert hints.destructive_hint is False, name  # external tier, not destructive
        assert stamps.FIELD not in json.dumps(tool.input_schema), name


def test_the_hook_stamps_browser_calls_only(tmp_path: Path):
    info = run_info(tmp_path, group="family", run_id="r-7")
    assert pynchy_before_tool(info, "mcp__calendar__list_events", {"x": 1}) is None
    forged = {"url": "https://example.org", stamps.FIELD: "agent-made"}
    stamped = pynchy_before_tool(info, "mcp__browser__open", forged)
    assert stamped is not None and stamped["url"] == "https://example.org"
    server = browser_server(settings())
    told = stamps.verify(server.env[stamps.KEY_ENV], stamped[stamps.FIELD])
    assert told == stamps.RunStamp("r-7", "family", str(tmp_path))


def test_access_tokens_differ_per_container_and_key():
    key = stamps.new_key()
    token = stamps.access_token(key, "pynchy-browser-main-1")
    assert token == stamps.access_token(key, "pynchy-browser-main-1") and len(token) == 64
    assert token != stamps.access_token(key, "pynchy-browser-family-2")
    assert token != stamps.access_token(stamps.new_key(), "pynchy-browser-main-1")


def test_a_stamp_is_refused_when_forged_damaged_or_keyless():
    key, other = stamps.new_key(), stamps.new_key()
    token = stamps.issue(key, stamps.RunStamp("r", "main", "/w"))
    assert stamps.verify(key, token).group == "main"
    payload, mac = token.split(".")
    evil = stamps.issue(other, stamps.RunStamp("r", "other", "/etc"))
    for bad in (evil, payload + ".0" + mac[1:], "x", None, "!!.00"):
        with pytest.raises(stamps.StampError):
            stamps.verify(key, bad)
    with pytest.raises(stamps.StampError, match="no key"):
        stamps.verify(None, token)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"network": "host"}, "network 'host' is not allowed"),
        ({"network": "container:db"}, "is not allowed"),
        ({"memory": "lots"}, "memory is not a size"),
        ({"idle_timeout": 0}, "idle_timeout is not a positive number"),
        ({"max_text": 10}, "max_text is not 1000 to 200000"),
        ({"window": "big"}, "window is not WIDTH,HEIGHT"),
        ({"guard_open": "yes"}, "guard_open is not true or false"),
        ({"image": ""}, "image is not a name"),
    ],
)
def test_wrong_settings_are_one_line(table: dict, says: str):
    with pytest.raises(ConfigError, match=says):
        load_config(table)
    assert any(says in what for what, _ in doctor_problems(table))


def test_settings_are_read_and_unknown_keys_only_reported():
    table = {"memory": "2g", "idle_timeout": 30, "network": "pynchy-web", "colour": "red"}
    config = load_config(table)
    assert (config.memory, config.idle_timeout, config.network) == ("2g", 30.0, "pynchy-web")
    assert any("unknown setting" in what for what, _ in doctor_problems(table))


def test_the_container_command_line_confines_it():
    config = load_config({"network": "pynchy-web", "memory": "512m", "idle_timeout": 90})
    argv = run_argv(config, "pynchy-browser-main-x", stamps.RunStamp("r-1", "main", "/w"))
    line = " ".join(argv)
    for part in (
        "--cap-drop ALL",
        "--security-opt no-new-privileges",
        "--read-only",
        "--memory 512m --memory-swap 512m",
        "--publish 127.0.0.1::9222",
        "--network pynchy-web",
        "--label pynchy.run=r-1",
        "--label pynchy.group=main",
        "--rm",
    ):
        assert part in line
    assert "PYNCHY_BROWSER_TOKEN=" not in line  # its value is not on the command line
    assert argv[argv.index("--env") + 1] == "PYNCHY_BROWSER_TOKEN"
    assert "--volume" not in argv and "--mount" not in argv and "--privileged" not in argv
    assert argv[-5:] == [config.image, "--idle", "90", "--window", "1280,800"]


def test_one_container_name_per_group_and_home():
    one = container_name("Family Chat", "/home/a/groups/family")
    assert one == container_name("Family Chat", "/home/a/groups/family")
    assert one.startswith("pynchy-browser-family-chat-")
    assert one != container_name("Family Chat", "/home/b/groups/family")


def test_screenshots_go_only_into_the_workspace(tmp_path: Path):
    workspace, outside = tmp_path / "work", tmp_path / "outside"
    workspace.mkdir(), outside.mkdir()
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03" + b"\0" * 20
    assert save(str(workspace), "a", png)["path"] == "/workspace/screenshots/a.png"
    assert png_size(png) == (2, 3)
    shutil.rmtree(workspace / "screenshots")
    (workspace / "screenshots").symlink_to(outside)  # planted by the agent
    with pytest.raises(DeniedError):
        save(str(workspace), "b", png)
    assert list(outside.iterdir()) == []
    for bad in ("../b", "a/b", ".hidden", "x" * 90):
        with pytest.raises(ShotError):
            file_name(bad)
    with pytest.raises(ShotError):
        png_size(b"GIF89a")


def test_doctor_says_what_is_missing(monkeypatch: pytest.MonkeyPatch):
    problems = pynchy_doctor(testing.plugin_settings("browser", {"engine": "no-such-engine"}))
    assert [(p.name, p.kind) for p in problems] == [("browser", "mcp")]
    assert "'no-such-engine' is not installed" in problems[0].what
    if shutil.which("podman") is None:
        return
    absent = testing.plugin_settings("browser", {"image": "localhost/pynchy-browser:absent"})
    [problem] = pynchy_doctor(absent)
    assert "localhost/pynchy-browser:absent is not built" in problem.what
    assert "python -m pynchy_browser.image build" in problem.fix


def test_pynchy_finds_the_plugin(pynchy_home: Path):
    done = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "plugin", "info", "browser", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYNCHY_HOME": str(pynchy_home)},
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["status"] == "enabled" and "browser" in json.dumps(info["registered"])
