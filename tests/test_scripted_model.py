"""The scripted model replays its script from the first turn in every run, whatever session
the run resumes; `"replay": "session"` makes a script go on across the runs of a session."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers import write_script

from pynchy_cli.core.agent_cores.offline import ScriptedCore
from pynchy_cli.core.errors import ConfigError, ExitCode

TURNS = [{"text": "first"}, {"text": "second"}]


def answer(core: ScriptedCore, messages: list[dict]) -> str:
    result = asyncio.run(core.complete(system="", messages=messages, tools=[], max_tokens=100))
    return result.content[0]["text"]


def user(text: str) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def said(text: str) -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def test_each_run_starts_the_script_over_on_a_resumed_session(tmp_path: Path) -> None:
    path = Path(write_script(tmp_path / "s.json", TURNS).removeprefix("scripted:"))
    session = [user("one"), said("first"), user("two")]
    run = ScriptedCore(path)  # one core is one run
    assert answer(run, session) == "first"
    assert answer(run, session) == "first"  # a retried turn: the same answer
    assert answer(run, [*session, said("first"), user("more")]) == "second"  # a follow-up
    assert answer(ScriptedCore(path), [*session, said("first"), user("three")]) == "first"


def test_replay_session_goes_on_across_runs(tmp_path: Path) -> None:
    path = Path(write_script(tmp_path / "s.json", TURNS, replay="session")[9:])
    assert answer(ScriptedCore(path), [user("one")]) == "first"
    assert answer(ScriptedCore(path), [user("one"), said("first"), user("two")]) == "second"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"turns": TURNS, "replay": "forever"}))
    with pytest.raises(ConfigError, match='"replay" must be "run"'):
        ScriptedCore(bad)


def test_agent_run_without_new_session_plays_the_script_from_its_start(cli, tmp_path: Path) -> None:
    model = write_script(tmp_path / "s.json", TURNS)
    assert cli("agent", "run", "--model", model, "one").stdout.strip().endswith("first")
    again = cli("agent", "run", "--model", model, "two")  # resumes the session
    assert again.exit_code == 0, again.output
    assert again.stdout.strip().endswith("first") and "second" not in again.stdout
    second, first = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    assert second["input_tokens"] > first["input_tokens"]  # it resumed: "one", "first" sent
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"turns": TURNS, "replay": 1}))
    refused = cli("agent", "run", "--model", f"scripted:{bad}", "x")
    assert refused.exit_code == ExitCode.CONFIG and '"replay" must be' in refused.stderr
