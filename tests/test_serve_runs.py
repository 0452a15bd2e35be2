"""How `pynchy serve` runs a group's agent, end to end on a real serve: limits per prompt,
resets, which model, stops and crashes recorded truthfully, one run per group across
processes, and a quiet log when a client goes away."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import bash, write_script
from servehelp import Serve, free_port

from pynchy_cli.core.agent.group_lock import lock_path
from pynchy_cli.core.context import Context
from pynchy_cli.core.groups import get_group

WARM = "[limits]\nidle_timeout = 600\n"  # a group's agent stays for its follow-ups


@pytest.fixture
def warm_serve(pynchy_home):
    (pynchy_home / "config.toml").write_text(WARM)
    service = Serve(pynchy_home).start()
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def query(home: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(home / "pynchy.db") as db:
        return db.execute(sql, args).fetchall()


def by_kind(serve: Serve, kind: str, group: str = "main") -> list[dict]:
    return [m for m in serve.messages(group) if m["sender_kind"] == kind]


def answered(serve: Serve, message_id: int, group: str = "main") -> bool:
    return serve.get(f"/groups/{group}/messages")["last_answered_id"] >= message_id


def pynchy(home: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYNCHY_HOME": str(home), "PYNCHY_ALLOW_PROCESS_RUNTIME": "true"}
    return subprocess.Popen(
        [sys.executable, "-m", "pynchy_cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def wait_for_tool(serve: Serve, group: str) -> str:
    """The id of the group's run once its agent runs a tool."""
    rows = serve.wait_for(
        lambda: query(
            serve.home,
            "select runs.id from runs join groups on groups.id = runs.group_id join run_events"
            " on run_events.run_id = runs.id where groups.name = ? and runs.status = 'running'"
            " and run_events.kind = 'tool_use'",
            group,
        ),
        f"a tool running in {group}",
    )
    return rows[0][0]


# --- limits are per prompt ----------------------------------------------------------------


def test_a_warm_group_answers_sixty_follow_ups(warm_serve, pynchy_home):
    # limits.max_turns (50) counts the model turns of one prompt, not of the warm run.
    for n in range(60):
        sent = warm_serve.send("main", f"follow-up {n}")["message"]["id"]
        warm_serve.wait_for(lambda sent=sent: answered(warm_serve, sent), f"answer {n}")
    replies = by_kind(warm_serve, "assistant")
    assert not by_kind(warm_serve, "host"), by_kind(warm_serve, "host")
    assert len(replies) == 60
    for n in range(60):
        assert sum(r["content"].endswith(f"ann: follow-up {n}") for r in replies) == 1, n
    assert len({r["run_id"] for r in replies}) == 1  # one warm run took them all


def test_an_answer_with_nothing_in_it_is_told(pynchy_home, tmp_path):
    model = write_script(tmp_path / "mute.json", [{"thinking": "nothing to say", "text": " "}])
    service = Serve(pynchy_home, model=model).start()
    try:
        sent = service.send("main", "say something")["message"]["id"]
        service.wait_for(lambda: answered(service, sent), "the cursor past it")
        notices = service.wait_for(lambda: by_kind(service, "host"), "a notice")
        assert [n["content"] for n in notices] == ["The agent finished without an answer."]
    finally:
        service.kill9()


# --- reset ------------------------------------------------------------------------------


def test_reset_ends_the_warm_run_and_its_conversation(warm_serve, pynchy_home):
    warm_serve.send("main", "remember apples")
    first = warm_serve.wait_for(lambda: by_kind(warm_serve, "assistant"), "a reply")[0]
    warm_serve.send("main", "reset")
    notice = warm_serve.wait_for(lambda: by_kind(warm_serve, "host"), "the notice")[0]
    assert notice["content"] == "Started a new session."
    warm_serve.send("main", "what do you remember?")
    second = warm_serve.wait_for(lambda: by_kind(warm_serve, "assistant")[1:], "a reply")[0]

    assert second["run_id"] != first["run_id"]  # the warm run ended with the reset
    old = query(pynchy_home, "select status from runs where id = ?", first["run_id"])
    assert old == [("succeeded",)]
    assert warm_serve.terminate() == 0  # the new run ends too, and saves its session
    sessions = [h for (h,) in query(pynchy_home, "select history from sessions")]
    assert not [h for h in sessions if "apples" in h]  # the old one was not saved back
    (current,) = query(
        pynchy_home,
        "select history from sessions join groups on groups.session_id = sessions.id",
    )
    assert "what do you remember?" in current[0]


# --- which model ------------------------------------------------------------------------


def test_a_groups_own_model_wins_over_serves_and_serves_over_configs(pynchy_home, cli, tmp_path):
    own = write_script(tmp_path / "own.json", [{"text": "the group's own model"}])
    configured = write_script(tmp_path / "config.json", [{"text": "the configured model"}])
    (pynchy_home / "config.toml").write_text(f"model = {json.dumps(configured)}\n")
    assert cli("groups", "add", "own", "--model", own).exit_code == 0
    assert cli("groups", "add", "plain").exit_code == 0
    service = Serve(pynchy_home).start()  # serve --model echo
    try:
        service.send("own", "@Pynchy who answers?")
        service.send("plain", "@Pynchy who answers?")
        mine = service.wait_for(lambda: by_kind(service, "assistant", "own"), "own's reply")
        plain = service.wait_for(lambda: by_kind(service, "assistant", "plain"), "a reply")
    finally:
        service.kill9()
    assert mine[0]["content"] == "the group's own model"
    assert plain[0]["content"].startswith("echo: ")


# --- stops and crashes, recorded truthfully -----------------------------------------------


def test_agent_stop_of_a_serve_run_is_told_as_a_stop(pynchy_home, cli, tmp_path):
    model = write_script(tmp_path / "slow.json", [{"tool_calls": [bash("sleep 600")]}])
    service = Serve(pynchy_home, model=model).start()
    try:
        service.send("main", "take your time")
        run_id = wait_for_tool(service, "main")
        assert cli("agent", "stop", run_id).exit_code == 0
        notices = service.wait_for(lambda: by_kind(service, "host"), "a notice")
    finally:
        service.kill9()
    assert [n["content"] for n in notices] == ["The run was stopped (pynchy agent stop)."]
    assert query(pynchy_home, "select status, error from runs where id = ?", run_id) == [
        ("stopped", "stopped with pynchy agent stop")
    ]


def test_kill9_records_answered_runs_and_cut_runs_truthfully(pynchy_home, cli, tmp_path):
    (pynchy_home / "config.toml").write_text(WARM)
    slow = write_script(tmp_path / "slow.json", [{"tool_calls": [bash("sleep 600")]}])
    assert cli("groups", "add", "main", "--admin", "--model", "echo").exit_code == 0
    assert cli("groups", "add", "slow", "--model", slow).exit_code == 0
    service = Serve(pynchy_home, model=None).start()  # each group on its own model
    try:
        sent = service.send("main", "answer me")["message"]["id"]
        service.wait_for(lambda: answered(service, sent), "the reply")  # then warm
        answered_run = by_kind(service, "assistant")[0]["run_id"]
        service.send("slow", "@Pynchy take your time")
        cut_run = wait_for_tool(service, "slow")
        service.kill9()
        service.start()
        service.wait_for(lambda: service.get("/status")["started_at"], "the restart")
    finally:
        service.kill9()

    status = dict(query(pynchy_home, "select id, status from runs"))
    assert status[answered_run] == "succeeded"
    assert status[cut_run] == "interrupted"
    ps = cli("agent", "ps", "--all", "--json")
    shown = {r["id"]: r["status"] for r in json.loads(ps.stdout)}
    assert shown[answered_run] == "succeeded" and shown[cut_run] == "interrupted"
    trace = cli("agent", "trace", cut_run)
    assert "interrupted: serve ended before the run answered" in trace.output
    trace = cli("agent", "trace", answered_run)
    assert "warning: serve ended after the run had answered" in trace.output


# --- one run per group, across processes ----------------------------------------------------


def test_agent_run_waits_for_the_groups_serve_run(warm_serve, pynchy_home):
    sent = warm_serve.send("main", "hold the group")["message"]["id"]
    warm_serve.wait_for(lambda: answered(warm_serve, sent), "the reply")  # warm, holding it
    beside = pynchy(pynchy_home, "agent", "run", "-m", "echo", "--runtime", "process", "beside")
    assert beside.stderr
    lines = [beside.stderr.readline()]
    while lines[-1] and "is busy" not in lines[-1] and len(lines) < 50:  # after any warnings
        lines.append(beside.stderr.readline())
    assert "group main is busy: waiting for its running agent… (Ctrl-C to give up)" in lines[-1]
    warm_serve.send("main", "reset")  # ends the warm run, which lets the other one go
    assert beside.wait(timeout=120) == 0, beside.stderr.read()
    (serve_run,) = query(pynchy_home, "select finished_at from runs where prompt like '%hold%'")
    (cli_run,) = query(pynchy_home, "select started_at from runs where prompt = 'beside'")
    assert cli_run[0] >= serve_run[0]


def test_a_wrong_model_is_said_at_once_while_the_group_is_busy(cli, pynchy_home):
    assert cli("groups", "add", "main").exit_code == 0
    context = Context()
    lock = lock_path(context.paths, get_group(context.db, "main").id)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a run of the group is going on
        done = pynchy(pynchy_home, "agent", "run", "-m", "bogus", "hi")
        _, stderr = done.communicate(timeout=60)
    assert done.returncode == 3
    assert "pynchy: error: unknown model 'bogus'" in stderr
    assert "is busy" not in stderr


def test_serve_waits_for_an_agent_run_in_the_same_group(pynchy_home, tmp_path):
    service = Serve(pynchy_home).start()
    try:
        gate = write_script(
            tmp_path / "gate.json",
            [{"tool_calls": [bash("while [ ! -e go ]; do sleep 0.05; done")]}, {"text": "ok"}],
        )
        beside = pynchy(pynchy_home, "agent", "run", "-m", gate, "--runtime", "process", "hold")
        cli_run = wait_for_tool(service, "main")
        sent = service.send("main", "my turn")["message"]["id"]
        service.wait_for(lambda: "group busy group=main" in service.log.read_text(), "waiting")
        assert service.get("/health")["ok"]  # waiting does not block serve
        assert len(query(pynchy_home, "select id from runs")) == 1
        (pynchy_home / "groups" / "main" / "go").touch()
        assert beside.wait(timeout=120) == 0
        service.wait_for(lambda: answered(service, sent), "serve's reply")
    finally:
        service.kill9()
    finished = query(pynchy_home, "select finished_at from runs where id = ?", cli_run)[0][0]
    started = query(pynchy_home, "select started_at from runs where id != ?", cli_run)[0][0]
    assert started >= finished


# --- a client that goes away ---------------------------------------------------------------


def test_a_chat_client_going_away_is_not_an_error(pynchy_home):
    """A client that drops its /events stream (a closed chat) costs one quiet line at most:
    no error and no traceback, also when the keep-alive is what finds it gone."""
    from aiohttp import web

    from pynchy_cli.core.context import Context
    from pynchy_cli.core.serve.api import make_app
    from pynchy_cli.core.serve.service import Service

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(level=logging.INFO)
    loggers = [logging.getLogger("pynchy"), logging.getLogger("aiohttp")]
    for logger in loggers:
        logger.addHandler(keep)

    async def scenario() -> None:
        service = Service(Context(), model="echo", runtime="process")
        records.clear()  # channels without tokens say so: not what this test is about
        runner = web.AppRunner(make_app(service, "token", keepalive=0.02))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token\r\n\r\n")
            await writer.drain()
            assert b": connected" in await reader.readuntil(b": connected")
            writer.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            writer.close()  # gone, with a reset
            for _ in range(50):  # many keep-alives
                await asyncio.sleep(0.02)
        finally:
            await runner.cleanup()

    try:
        asyncio.run(scenario())
    finally:
        for logger in loggers:
            logger.removeHandler(keep)
    loud = [r for r in records if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [(r.name, r.getMessage(), r.exc_info) for r in loud]
