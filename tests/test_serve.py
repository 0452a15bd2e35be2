"""`pynchy serve` end to end: a real service process, the API and `pynchy chat` as clients.
The main ones run twice: scaling local, and scaling ray joined to a one-node Ray cluster
(started once for the module): same replies, no code change."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import urllib.error
from datetime import UTC, datetime, timedelta

import pytest
from rayhelp import Cluster, require_ray
from servehelp import Serve

SCALINGS = ["local", pytest.param("ray", marks=pytest.mark.ray)]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    require_ray()
    cluster = Cluster(tmp_path_factory.mktemp("ray"), loopback=True)
    try:
        yield cluster.start_head("--num-cpus", "4")
    finally:
        cluster.stop()


@pytest.fixture
def serve(pynchy_home, request):
    args: tuple[str, ...] = ()
    if getattr(request, "param", "local") == "ray":
        head = request.getfixturevalue("ray_head")
        head.give_token(pynchy_home)
        args = ("--scaling", "ray", "--ray-address", head.address)
    service = Serve(pynchy_home, *args).start()
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def replies(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["sender_kind"] == "assistant"]


def chat(serve: Serve, text: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYNCHY_HOME": str(serve.home)}
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "chat", "--port", str(serve.port), *args],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("serve", SCALINGS, indirect=True)
def test_chat_in_a_pipe_gets_the_reply(serve):
    out = chat(serve, "hello pynchy\n", "--group", "main")
    assert out.returncode == 0, out.stderr
    assert "Pynchy: echo: " in out.stdout and "hello pynchy" in out.stdout
    msgs = serve.messages("main")
    assert [m["sender_kind"] for m in msgs] == ["person", "assistant"]
    assert msgs[1]["reply_to"] == msgs[0]["id"]


def test_api_refuses_without_token(serve):
    with pytest.raises(urllib.error.HTTPError) as err:
        serve.get("/status", auth=False)
    assert err.value.code == 401
    assert serve.get("/health", auth=False)["ok"] is True


@pytest.mark.parametrize("serve", SCALINGS, indirect=True)
def test_trigger_rule_and_catch_up(serve, cli):
    assert cli("groups", "add", "family").exit_code == 0
    first = serve.send("family", "dinner at 7?")
    assert first["queued"] is False
    second = serve.send("family", "@Pynchy what did I just say?")
    assert second["queued"] is True
    reply = serve.wait_for(lambda: replies(serve.messages("family")), "a reply")[0]
    # Catch-up: the prompt held both messages, with sender and time.
    assert "ann: dinner at 7?" in reply["content"]
    assert "ann: @Pynchy what did I just say?" in reply["content"]
    assert reply["reply_to"] == second["message"]["id"]


@pytest.mark.parametrize("serve", SCALINGS, indirect=True)
def test_reset_word_starts_a_new_session(serve, pynchy_home):
    serve.send("main", "remember this")
    serve.wait_for(lambda: replies(serve.messages("main")), "a reply")
    serve.send("main", "reset")
    host = serve.wait_for(
        lambda: [m for m in serve.messages("main") if m["sender_kind"] == "host"], "a notice"
    )
    assert "new session" in host[0]["content"].lower()
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        assert db.execute("select session_id from groups where name='main'").fetchone()[0] is None


def test_status_lists_groups_and_scheduler(serve, cli):
    cli("tasks", "add", "--group", "main", "--cron", "0 9 * * *", "morning brief")
    status = serve.get("/status")
    assert [g["name"] for g in status["groups"]] == ["main"]
    assert status["scheduler"]["tasks"][0]["spec"] == "0 9 * * *"


@pytest.mark.parametrize("serve", SCALINGS, indirect=True)
def test_interval_task_delivers_messages(serve, cli):
    assert cli("tasks", "add", "--group", "main", "--every", "1s", "say hi").exit_code == 0
    found = serve.wait_for(lambda: len(replies(serve.messages("main"))) >= 2, "two task replies")
    assert found
    assert all("say hi" in m["content"] for m in replies(serve.messages("main")))


def test_missed_tasks_run_once_after_downtime(pynchy_home, cli):
    cli("groups", "add", "main", "--admin")
    cli(
        "tasks", "add", "--group", "main", "--cron", "0 0 1 1 *", "cron task"
    )  # yearly: no new due time during the test
    cli(
        "tasks",
        "add",
        "--group",
        "main",
        "--at",
        (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "once task",
    )
    past = (datetime.now(UTC) - timedelta(minutes=10)).isoformat(timespec="microseconds")
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        # As if serve had been down for ten minutes: both tasks are overdue.
        db.execute("update tasks set next_run_at = ?", [past])
    service = Serve(pynchy_home).start()
    try:
        service.wait_for(lambda: len(replies(service.messages("main"))) >= 2, "both tasks")
        service.wait_for(
            lambda: all(
                t["last_run"]["status"] == "succeeded"
                for t in service.get("/status")["scheduler"]["tasks"]
                if t["last_run"]
            ),
            "task runs finished",
        )
        service.kill9()
        service.start()
        service.wait_for(lambda: service.get("/status")["started_at"], "restart")
        assert len(replies(service.messages("main"))) == 2  # nothing ran again
        with sqlite3.connect(pynchy_home / "pynchy.db") as db:
            runs = db.execute("select task_id, due_at, status from task_runs").fetchall()
            once_status = db.execute("select status from tasks where id = 2").fetchone()[0]
            next_cron = db.execute("select next_run_at from tasks where id = 1").fetchone()[0]
        assert sorted((r[0], r[1]) for r in runs) == [(1, past), (2, past)]
        assert once_status == "done"
        assert next_cron > datetime.now(UTC).isoformat()
    finally:
        service.kill9()


@pytest.mark.parametrize("serve", SCALINGS, indirect=True)
def test_sigterm_drains_then_restart_answers_once(serve):
    sent = serve.send("main", "finish me")
    assert serve.terminate() == 0  # a clean exit, whatever was running finished or stopped
    serve.start()
    serve.wait_for(lambda: replies(serve.messages("main")), "the reply")
    assert [m["reply_to"] for m in replies(serve.messages("main"))] == [sent["message"]["id"]]


def test_without_a_model_the_person_is_told_how_to_fix_it(pynchy_home):
    # serve on its defaults: no --model and no key in the environment.
    service = Serve(pynchy_home, model=None).start()
    try:
        service.send("main", "hello?")
        notices = service.wait_for(
            lambda: [m for m in service.messages("main") if m["sender_kind"] == "host"], "a notice"
        )
        assert len(notices) == 1
        assert notices[0]["content"].startswith("no model configured.")
        assert "--model echo" in notices[0]["content"]
        assert service.get("/groups/main/messages")["last_answered_id"] >= 1
    finally:
        service.kill9()


@pytest.mark.ray
def test_embedded_ray_answers_as_local_mode_does(pynchy_home):
    # No address: serve starts a single-node Ray of its own, on loopback, with a token.
    require_ray()
    service = Serve(pynchy_home, "--scaling", "ray")
    service.ready_tries = 1800  # Ray's start takes seconds on a busy machine
    service.start()
    try:
        out = chat(service, "hello ray\n", "--group", "main")
        assert out.returncode == 0, out.stderr
        assert "Pynchy: echo: " in out.stdout and "hello ray" in out.stdout
        scaling = service.get("/status")["scaling"]
        assert scaling["scaling"] == "ray" and scaling["address"] == "embedded"
        [node] = scaling["nodes"]
        assert node["ip"] == "127.0.0.1" and node["serve_node"]
        with sqlite3.connect(pynchy_home / "pynchy.db") as db:
            assert db.execute("select node from runs").fetchone()[0] == node["id"]
        assert oct((pynchy_home / "ray-token").stat().st_mode & 0o777) == "0o600"
    finally:
        assert service.terminate() == 0
