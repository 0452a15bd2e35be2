"""Local models: an OpenAI-compatible server (Ollama, llama-server, vLLM) as an account
with a base_url and no key, a group's model on it, a scheduled task on it, and doctor's
check of the server. The "local server" is tests/fakes/openai_server.py, which speaks chat
completions and GET /v1/models as those servers do."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from fakes.openai_server import OpenAIServer
from servehelp import Serve


@pytest.fixture
def local_server():
    with OpenAIServer(key=None) as srv:  # local servers want no key
        srv.models = ("llama3.2:latest", "qwen3:8b")  # as Ollama lists them
        yield srv


@pytest.fixture
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def local_account(home, srv, extra: str = "") -> None:
    (home / "config.toml").write_text(
        f'{extra}[accounts.local]\nprovider = "openai"\nbase_url = "{srv.base_url}"\n'
    )


def on_local_model(cli, group: str = "main") -> None:
    assert cli("groups", "add", group, "--admin").exit_code == 0
    result = cli("groups", "set", group, "--model", "openai:llama3.2", "--account", "local")
    assert result.exit_code == 0, result.output


def chat_requests(srv: OpenAIServer) -> list:
    return [r for r in srv.requests if r.path == "/v1/chat/completions"]


def test_a_group_on_the_local_account_answers(cli, pynchy_home, local_server, process_runtime):
    local_account(pynchy_home, local_server)
    on_local_model(cli)
    local_server.reply_text("hello from llama")
    result = cli("agent", "run", "--json", "hi there")
    assert result.exit_code == 0, result.output
    assert "hello from llama" in result.stdout
    [request] = chat_requests(local_server)
    assert request.body["model"] == "llama3.2"
    assert "max_tokens" in request.body  # compatible servers know max_tokens, not the newer name
    assert "hi there" in json.dumps(request.body["messages"])
    assert request.headers["authorization"] == "Bearer not-needed"  # no key of ours goes out
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    assert (runs[0]["model"], runs[0]["status"]) == ("openai:llama3.2", "succeeded")


def test_a_scheduled_task_runs_on_the_local_model(cli, pynchy_home, local_server, process_runtime):
    local_account(pynchy_home, local_server)
    on_local_model(cli)
    local_server.reply_text("the daily summary")
    when = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    added = cli("tasks", "add", "--group", "main", "--at", when, "--name", "daily", "summarise")
    assert added.exit_code == 0, added.output
    serve = Serve(pynchy_home, model=None).start()  # no --model: the group's own decides
    try:
        replies = serve.wait_for(
            lambda: [m for m in serve.messages("main") if m["sender_kind"] == "assistant"],
            "the task's reply",
        )
    finally:
        serve.terminate()
    assert replies[0]["content"] == "the daily summary"
    [request] = chat_requests(local_server)
    assert request.body["model"] == "llama3.2" and "summarise" in json.dumps(request.body)
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        row = db.execute("select model, account, task_id from runs").fetchone()
    assert row[:2] == ("openai:llama3.2", "local") and row[2] is not None
    # system cron runs the same task by name: pynchy agent run --periodic daily
    local_server.reply_text("again, from cron")
    result = cli("agent", "run", "--periodic", "daily", "--json")
    assert result.exit_code == 0, result.output
    assert "again, from cron" in result.stdout


def doctor_check(cli, name: str = "model server local") -> tuple[dict, int]:
    result = cli("doctor", "--json")
    return {c["name"]: c for c in json.loads(result.stdout)}[name], result.exit_code


def test_doctor_checks_the_local_server_and_the_models_in_use(cli, pynchy_home, local_server):
    local_account(pynchy_home, local_server, 'model = "openai:llama3.2"\naccount = "local"\n')
    check, _ = doctor_check(cli)
    assert check["ok"], check
    assert (
        check["detail"] == f"{local_server.base_url}/models answers (2 model(s); serves llama3.2)"
    )
    assert any(r.method == "GET" and r.path == "/v1/models" for r in local_server.requests)
    # a group on a model the server does not have
    on_local_model(cli, "family")
    cli("groups", "set", "family", "--model", "openai:mistral")
    check, code = doctor_check(cli)
    assert not check["ok"] and code == 1
    assert "does not list mistral (used by group family)" in check["detail"]
    assert "llama3.2:latest, qwen3:8b" in check["detail"]
    assert "ollama pull mistral" in check["fix"] and "--account local" in check["fix"]


def test_doctor_says_how_to_start_a_server_that_is_down(cli, pynchy_home):
    with OpenAIServer(key=None) as srv:
        base_url = srv.base_url  # a port nothing listens on once it stops
    (pynchy_home / "config.toml").write_text(
        'model = "openai:llama3.2"\naccount = "local"\n'
        f'[accounts.local]\nprovider = "openai"\nbase_url = "{base_url}"\n'
    )
    check, code = doctor_check(cli)
    assert not check["ok"] and check["required"] and code == 1
    assert check["detail"].startswith(f"{base_url}/models is down")
    assert "ollama serve" in check["fix"] and "llama-server --jinja" in check["fix"]
    assert "--enable-auto-tool-choice" in check["fix"] and "[accounts.local]" in check["fix"]
