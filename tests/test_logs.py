"""Structured session logs (core.logs, through dossier): a real agent run in podman and a
real serve leave their session folders; errors group with counts; old folders are pruned;
no secret and nothing hostile reaches a file."""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakes.anthropic_server import AnthropicServer
from helpers import require_podman
from pydantic import BaseModel, SecretStr
from servehelp import Serve, free_port

from pynchy_cli.core.config import load_settings
from pynchy_cli.core.logs import error_groups, prune_sessions, read_events, run_log
from pynchy_cli.core.logs import sessions as log_sessions
from pynchy_cli.core.logs.sessions import sessions_dir
from pynchy_cli.core.paths import resolve_paths

ANTHROPIC_KEY = "sk-ant-api03-" + secrets.token_urlsafe(32)
HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def session_files(home: Path) -> list[Path]:
    return [p for p in (home / "logs" / "sessions").rglob("*") if p.is_file()]


def all_log_text(home: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in session_files(home))


def test_a_podman_run_leaves_one_session_of_events(cli, monkeypatch, pynchy_home):
    require_podman()
    monkeypatch.setenv("PYNCHY_RUNTIME", "podman")
    with AnthropicServer(key=ANTHROPIC_KEY) as server:
        # The model writes the key into a tool call: the log must not keep it.
        server.reply_tool_use("bash", {"command": f"echo {ANTHROPIC_KEY} > /dev/null; echo ok"})
        server.reply_text("all done")
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        result = cli("agent", "run", "--model", "anthropic:claude-sonnet-5-5", "go")
    assert result.exit_code == 0, result.output
    folders = list(sessions_dir(resolve_paths()).iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("run-")
    assert stat.S_IMODE(folders[0].stat().st_mode) == 0o700
    assert stat.S_IMODE((folders[0] / "events.jsonl").stat().st_mode) == 0o600
    events = list(read_events(resolve_paths(), HOUR_AGO))
    names = [e["event"] for e in events]
    assert names[0] == "run_start" and names[-1] == "run_finish"
    assert {"run_tool_use", "run_tool_result", "run_usage", "run_result"} <= set(names)
    assert all(e["session"] == folders[0].name for e in events)
    start = events[0]
    assert start["model"] == "anthropic:claude-sonnet-5-5" and start["runtime"] == "podman"
    tool_use = next(e for e in events if e["event"] == "run_tool_use")
    assert tool_use["tool"] == "bash" and tool_use["tier"]
    assert "****" in tool_use["input"]["command"]
    tool_result = next(e for e in events if e["event"] == "run_tool_result")
    assert tool_result["outcome"] == "ok" and tool_result["tier"] == tool_use["tier"]
    assert events[-1]["status"] == "succeeded"
    assert ANTHROPIC_KEY not in all_log_text(pynchy_home)
    assert error_groups(resolve_paths(), HOUR_AGO) == []


def test_failing_runs_log_their_errors_grouped(cli, monkeypatch, pynchy_home):
    """Two runs whose provider cannot be reached (process runtime): each session ends
    failed, and their errors form groups counted twice."""
    (pynchy_home / "config.toml").write_text('runtime = "process"\nallow_process_runtime = true\n')
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{free_port()}")
    for _ in range(2):
        result = cli("agent", "run", "--model", "anthropic:claude-sonnet-5-5", "hello")
        assert result.exit_code != 0
    events = list(read_events(resolve_paths(), HOUR_AGO))
    finishes = [e for e in events if e["event"] == "run_finish"]
    assert [e["status"] for e in finishes] == ["failed", "failed"]
    assert all(e["level"] == "error" for e in finishes)
    groups = error_groups(resolve_paths(), HOUR_AGO)
    assert groups and all(g.count == 2 for g in groups)
    assert any(g.key.startswith("run_error") for g in groups)
    assert ANTHROPIC_KEY not in all_log_text(pynchy_home)
    shown = cli("agent", "logs", finishes[0]["run_id"], "--session")
    assert shown.exit_code == 0, shown.output
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert lines[0]["event"] == "run_start" and lines[-1] == finishes[0]


def test_errors_group_by_event_and_exception_type(pynchy_home):
    paths = resolve_paths()
    for n in range(3):
        with run_log(paths, f"r{n}") as log:
            log.error("run_error", message=f"model call failed after {n + 1} tries, run ab12cd{n}9")
            try:
                raise TimeoutError(f"slow {n}")
            except TimeoutError as exc:
                log.error("tool crashed", exc_info=exc)
    with run_log(paths, "other") as log:
        log.error("disk full")
        log.warning("only a warning")
    groups = error_groups(paths, HOUR_AGO)
    assert [(g.key, g.count) for g in groups] == [
        ("tool crashed [TimeoutError]", 3),  # as frequent, and newer
        ("run_error: model call failed after N tries, run N", 3),
        ("disk full", 1),
    ]
    assert groups[0].first <= groups[0].last
    assert groups[0].sample["exception"].strip().endswith("TimeoutError: slow 2")
    assert len(list(read_events(paths, HOUR_AGO, level="warning"))) == 8
    assert list(read_events(paths, datetime.now(UTC) + timedelta(minutes=1))) == []


def test_pruning_removes_old_sessions_and_keeps_the_newest(pynchy_home, monkeypatch):
    monkeypatch.setattr(log_sessions, "PRUNE_EVERY", 0.0)  # each new session prunes
    paths = resolve_paths()
    (pynchy_home / "config.toml").write_text("[logs]\nkeep_sessions = 3\nkeep_days = 2\n")
    settings = load_settings(paths)
    for n in range(4):
        run_log(paths, f"old{n}", settings=settings).close()
    root = sessions_dir(paths)
    week_ago = time.time() - 7 * 86_400
    for n in range(2):  # two of them a week old
        folder = next(root.glob(f"run-old{n}_*"))
        for path in [*folder.iterdir(), folder]:
            os.utime(path, (week_ago, week_ago))
    still_open = run_log(paths, "open", settings=settings)
    assert still_open.wait_open() is not None
    for n in range(3):
        run_log(paths, f"new{n}", settings=settings).close()
    names = sorted(p.name.split("_")[0] for p in root.iterdir())
    # the newest three, and the session still writing
    assert names == ["run-new0", "run-new1", "run-new2", "run-open"]
    still_open.info("still here")
    still_open.close()
    assert prune_sessions(root, keep_days=2, keep_sessions=1) != []
    assert len(list(root.iterdir())) == 1


def test_sessions_are_pruned_at_most_every_ten_minutes(pynchy_home):
    paths = resolve_paths()
    (pynchy_home / "config.toml").write_text("[logs]\nkeep_sessions = 1\n")
    settings = load_settings(paths)
    for n in range(3):  # the first prunes; the next two come within ten minutes
        run_log(paths, f"r{n}", settings=settings).close()
    root = sessions_dir(paths)
    assert len(list(root.iterdir())) == 3
    stamp = root.parent / log_sessions.PRUNE_STAMP
    old = time.time() - log_sessions.PRUNE_EVERY - 1
    os.utime(stamp, (old, old))
    run_log(paths, "r3", settings=settings).close()
    # the prune runs as r3 opens: the newest one before it stays, and r3
    assert sorted(p.name.split("_")[0] for p in root.iterdir()) == ["run-r2", "run-r3"]


def test_rotation_caps_each_file_and_reading_keeps_the_order(pynchy_home):
    paths = resolve_paths()
    (pynchy_home / "config.toml").write_text("[logs]\nmax_file_bytes = 10000\nfile_backups = 2\n")
    with run_log(paths, "big", settings=load_settings(paths)) as log:
        for n in range(120):
            log.info("step", n=n, pad="x" * 200)
    folder = next(sessions_dir(paths).iterdir())
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    assert all(p.stat().st_size <= 10_500 for p in folder.iterdir())
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    steps = [e["n"] for e in read_events(paths, HOUR_AGO) if e["event"] == "step"]
    assert steps == sorted(steps) and steps[-1] == 119 and len(steps) < 120


@dataclass
class Call:
    tool: str
    api_key: str
    note: str


class Account(BaseModel):
    name: str
    key: SecretStr


def test_no_secret_reaches_a_file(pynchy_home, monkeypatch):
    env_secret = "tok-" + secrets.token_hex(16)
    config_secret = "cfg-" + secrets.token_hex(16)
    monkeypatch.setenv("PYNCHY_TEST_BOT_TOKEN", env_secret)
    (pynchy_home / "config.toml").write_text(
        f'[accounts.work]\nprovider = "anthropic"\napi_key = "{config_secret}"\n'
        f'[plugin.chat]\nbot_token = "{config_secret}x"\n'
    )
    paths = resolve_paths()
    settings = load_settings(paths)
    for log in (run_log(paths, "s", settings=settings), run_log(paths, "raw")):  # raw: no settings
        log.info(
            f"event named {env_secret}",
            text=f"the key is {config_secret} and {env_secret}",
            nested={"deep": [{"x": f"Bearer {env_secret}"}]},
            call=Call("bash", "anything", f"note {config_secret}x"),
            account=Account(name="work", key=SecretStr(config_secret)),
            password="hunter2hunter2",
        )
        log.error("failed", exc_info=RuntimeError(f"401 with {config_secret}"))
        log.close()
    text = all_log_text(pynchy_home)
    for secret in (env_secret, config_secret, "hunter2hunter2"):
        assert secret not in text
    event = next(read_events(paths, HOUR_AGO))
    assert event["call_tool"] == "bash" and event["call_api_key"] == "****"
    assert event["account_name"] == "work"


def test_hostile_values_are_neutralised_and_capped(pynchy_home):
    paths = resolve_paths()
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["d"] = node = {}
    with run_log(paths, "hostile") as log:
        log.info(
            "hostile\x1b]0;pwned\x07",
            ansi="\x1b[2J\x1b[31mred\x00\r\x85",
            huge="y" * 1_000_000,
            many=list(range(10_000)),
            wide={f"k{n}": n for n in range(10_000)},
            deep=deep,
            **{"weird\nkey\x1b": 1},
        )
    folder = next(sessions_dir(paths).iterdir())
    lines = (folder / "events.jsonl").read_text().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 20_000
    event = json.loads(lines[0])
    assert not any(ch in json.dumps(event, ensure_ascii=False) for ch in "\x1b\x00\x07\r\x85")
    assert event["ansi"].endswith("red\ufffd\ufffd\ufffd")
    assert event["huge"].endswith("[998000 more characters]")
    assert len(event["many"]) == 101 and len(event["wide"]) == 101
    assert "weird\nkey\ufffd" in event


def test_serve_writes_its_session(pynchy_home):
    serve = Serve(pynchy_home).start()
    try:
        serve.send("main", "@Pynchy hello")
        serve.wait_for(
            lambda: any(m["sender_kind"] == "assistant" for m in serve.messages("main")),
            "the reply",
        )
    finally:
        assert serve.terminate() == 0
    events = list(read_events(resolve_paths(), HOUR_AGO))
    serve_events = [e for e in events if e["session"].startswith("serve-")]
    names = [e["event"] for e in serve_events]
    assert names[0] == "serve_start" and names[-1] == "serve_stop"
    assert {"channel connected", "channel disconnected", "message in", "reply out"} <= set(names)
    connected = next(e for e in serve_events if e["event"] == "channel connected")
    assert connected["channel"] == "terminal" and connected["logger"] == "pynchy.serve"
    assert serve_events[-1]["messages_in"] == 1 and serve_events[-1]["replies_out"] == 1
    # the run serve started has its own session
    assert any(e["session"].startswith("run-") and e["event"] == "run_finish" for e in events)
    assert serve.token not in all_log_text(pynchy_home)
    assert (pynchy_home / "logs" / "serve.log").exists()  # the free-text log is still there
