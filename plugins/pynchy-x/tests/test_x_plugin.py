"""Settings come from the environment or [plugin.x]; the hook registers the MCP server with
them in its environment; pynchy discovers the plugin through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pynchy_x.config import DEFAULT_API_URL, load_config
from pynchy_x.plugin import pynchy_doctor, pynchy_mcp_servers, x_server

from pynchy_cli import Problem, testing

KEYS = {
    "consumer_key": "ck",
    "consumer_secret": "cs",
    "access_token": "1-at",
    "access_token_secret": "as",
}


def test_settings_from_config_toml_and_the_environment_which_wins(monkeypatch):
    config = load_config({**KEYS, "max_post_length": 25000}, environ={})
    assert config.oauth1 and config.max_post_length == 25000
    assert config.api_url == DEFAULT_API_URL
    assert "cs" not in repr(config) and "oauth1" in repr(config)
    env = {"X_CONSUMER_SECRET": "from-env", "X_API_URL": "http://127.0.0.1:9/"}
    config = load_config(KEYS, environ=env)
    assert config.consumer_secret == "from-env" and config.api_url == "http://127.0.0.1:9"
    bearer = load_config({"bearer_token": "tok"}, environ={})
    assert bearer.usable and not bearer.oauth1


def registered_factory():
    registered: list[tuple] = []
    pynchy_mcp_servers(lambda *args: registered.append(args))
    [(name, factory)] = registered
    assert name == "x" and factory is x_server
    return factory


def test_the_hook_registers_the_server_with_the_credentials_in_its_environment(pynchy_home):
    server = registered_factory()(testing.plugin_settings("x", {**KEYS, "groups": ["main"]}))
    assert (server.name, server.command) == ("x", [sys.executable, "-m", "pynchy_x.server"])
    assert server.groups == ["main"] and server.risk == "external"
    assert server.tool_flags["get_post"] == ["untrusted_input"]
    assert server.tool_flags["reply"] == ["public_sink"]
    assert server.env["X_CONSUMER_KEY"] == "ck" and server.env["X_ACCESS_TOKEN"] == "1-at"
    assert "cs" not in repr(server)


def test_without_credentials_no_server_is_registered(pynchy_home, monkeypatch):
    factory = registered_factory()
    assert factory(testing.plugin_settings("x")) is None
    monkeypatch.setenv("X_BEARER_TOKEN", "tok")  # the environment is enough
    server = factory(testing.plugin_settings("x"))
    assert server.groups is None and server.env["X_BEARER_TOKEN"] == "tok"


def test_groups_that_are_not_a_list_of_names_mean_no_group():
    # McpServer refuses it, so pynchy leaves the server out (with a warning): no group
    with pytest.raises(ValueError, match="groups must be a list"):
        x_server(testing.plugin_settings("x", {**KEYS, "groups": "main"}))


def test_doctor_names_what_is_missing(monkeypatch):
    def problems(**table):
        return pynchy_doctor(testing.plugin_settings("x", table))

    [missing] = problems()
    assert isinstance(missing, Problem) and missing.kind == "mcp"
    assert missing.what == "x: no X credentials" and "X_BEARER_TOKEN" in missing.fix
    [partial] = problems(consumer_key="ck", consumer_secret="cs")
    assert "X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET not set" in partial.what
    assert problems(**KEYS) == []
    odd = problems(**KEYS, max_post_length=0, api_url="ftp://x", groups="main", colour=1)
    assert [p.what.split(" ")[1] for p in odd] == [
        "api_url",
        "max_post_length",
        "[plugin.x]",
        "unknown",
    ]
    monkeypatch.setenv("X_BEARER_TOKEN", "tok")
    assert problems() == []


def test_pynchy_discovers_the_plugin(pynchy_home):
    result = subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "plugin", "info", "x", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYNCHY_PLUGINS": "x"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["status"] == "enabled" and info["kinds"] == ["mcp"]
    assert info["source"] == "pynchy-x"
