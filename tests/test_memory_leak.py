"""A hostile container in a real podman container replaces its memory file with symlinks to
the host's /proc/self/environ and to the host's config.toml (a host path the container
cannot see, but can write into a symlink), and plants a skill the same way. The next runs
get nothing of either into their prompt, transcript, output or any file."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import bash, files_holding, tool_results, write_script

from pynchy_cli.core.runtimes.detect import socket_answers

REQUIRE_PODMAN = os.environ.get("PYNCHY_TEST_REQUIRE_PODMAN") == "1"
PODMAN_SOCKET = "/run/podman/podman.sock"

pytestmark = pytest.mark.podman

ANTHROPIC_KEY = "sk-ant-test-" + secrets.token_urlsafe(32)
OPENAI_KEY = "sk-proj-test-" + secrets.token_urlsafe(32)
CONFIG_KEY = "sk-ant-cfg-" + secrets.token_urlsafe(32)
KEYS = [ANTHROPIC_KEY, OPENAI_KEY, CONFIG_KEY]


@pytest.fixture(autouse=True)
def podman():
    if not socket_answers(PODMAN_SOCKET):
        if REQUIRE_PODMAN:
            pytest.fail(f"podman is not serving on {PODMAN_SOCKET}")
        pytest.skip("podman is not serving (run scripts/setup-podman)")


def agent_run(home: Path, model: str, prompt: str) -> subprocess.CompletedProcess:
    """`pynchy agent run` in a subprocess whose own environment holds the keys, so its
    /proc/self/environ is exactly what a followed symlink would leak."""
    env = {
        **os.environ,
        "PYNCHY_HOME": str(home),
        "PYNCHY_RUNTIME": "podman",
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pynchy_cli",
            "agent",
            "run",
            "--new-session",
            "--model",
            model,
            prompt,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard, not a timing assertion
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def trace(cli) -> tuple[dict, str]:
    run_id = json.loads(cli("agent", "ps", "--all", "--json").stdout)[0]["id"]
    text = cli("agent", "trace", run_id, "--json").stdout
    return json.loads(text), text


def warnings_of(found: dict) -> list[str]:
    return [e["data"]["message"] for e in found["events"] if e["data"].get("warning")]


def test_container_symlinks_leak_no_key(cli, tmp_path, pynchy_home):
    config = pynchy_home / "config.toml"
    config.write_text(f'[accounts.work]\nprovider = "anthropic"\napi_key = "{CONFIG_KEY}"\n')
    plant = (
        "ln -sfn /proc/self/environ /workspace/CLAUDE.md"
        " && mkdir -p .claude/skills/cfg"
        f" && ln -sfn {config} .claude/skills/cfg/SKILL.md"
        " && ls -l /workspace/CLAUDE.md .claude/skills/cfg"
    )
    first = write_script(tmp_path / "1.json", [{"tool_calls": [bash(plant)]}, {"text": "planted"}])
    outputs = [agent_run(pynchy_home, first, "plant")]
    planted = tool_results(trace(cli)[0])[0]["content"]
    assert "CLAUDE.md -> /proc/self/environ" in planted and f"-> {config}" in planted

    # The second run's prompt is built from the planted files; it then points the memory
    # file at the host's config.toml for the third.
    swap = f"ln -sfn {config} /workspace/CLAUDE.md && ls -l /workspace/CLAUDE.md"
    second = write_script(tmp_path / "2.json", [{"tool_calls": [bash(swap)]}, {"text": "swapped"}])
    outputs.append(agent_run(pynchy_home, second, "what do you remember?"))
    found, text2 = trace(cli)
    assert "<group_memory>" not in found["run"]["system_prompt"]
    assert "memory file CLAUDE.md is a symlink: ignored" in warnings_of(found)
    assert "skill skipped: .claude/skills/cfg/SKILL.md is a symlink" in warnings_of(found)
    assert f"-> {config}" in tool_results(found)[0]["content"]

    third = write_script(tmp_path / "3.json", [{"text": "nothing remembered"}])
    outputs.append(agent_run(pynchy_home, third, "and now?"))
    found, text3 = trace(cli)
    assert "<group_memory>" not in found["run"]["system_prompt"]
    assert "memory file CLAUDE.md is a symlink: ignored" in warnings_of(found)

    for text in [text2, text3, *(o.stdout + o.stderr for o in outputs)]:
        assert not any(k in text or k[-16:] in text for k in KEYS)
    assert files_holding(pynchy_home, KEYS, skip=(config,)) == []
