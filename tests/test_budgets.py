"""Budgets and fallback accounts end to end: a real `pynchy serve` and `pynchy agent run`
(process runtime), model calls through the providers' fake servers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fakes.anthropic_server import AnthropicServer
from fakes.openai_server import OpenAIServer
from ledger_help import account, insert_run, query, write_config
from servehelp import Serve

from pynchy_cli.core.agent_cores.sdk_errors import fallback_reason, status_error
from pynchy_cli.core.errors import ExitCode

KEY = "sk-ant-test-budget-0123456789"
BACKUP_KEY = "sk-ant-test-backup-9876543210"
SONNET = "anthropic:claude-sonnet-5-5"
RATE, CREDIT = "rate limited", "out of credit"


@pytest.fixture(autouse=True)
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def host_notices(serve: Serve, group: str) -> list[str]:
    return [m["content"] for m in serve.messages(group) if m["sender_kind"] == "host"]


def replies(serve: Serve, group: str) -> list[str]:
    return [m["content"] for m in serve.messages(group) if m["sender_kind"] == "assistant"]


def test_serve_warns_once_stops_mid_run_then_refuses_without_a_model_call(cli, pynchy_home):
    with AnthropicServer(key=KEY) as srv:
        write_config(pynchy_home, account("work", "anthropic", srv.base_url, KEY))
        budget = ["--budget", "daily=100000tokens"]
        added = cli("groups", "add", "family", "--model", SONNET, "--account", "work", *budget)
        assert added.exit_code == 0, added.output
        srv.reply_text("first answer", usage={"input_tokens": 85_000, "output_tokens": 100})
        srv.reply_text("second answer", usage={"input_tokens": 1_000, "output_tokens": 100})
        srv.reply_tool_use(
            "bash", {"command": "echo hi"}, usage={"input_tokens": 20_000, "output_tokens": 100}
        )
        srv.reply_text("never asked for")
        serve = Serve(pynchy_home, model=None).start()
        try:
            serve.send("family", "@Pynchy one")
            serve.wait_for(lambda: replies(serve, "family") == ["first answer"], "an answer")
            warning = serve.wait_for(lambda: host_notices(serve, "family"), "a warning")
            assert len(warning) == 1 and warning[0].startswith("Budget warning: group family")
            assert "85,100 tokens of its daily budget of 100,000 tokens (85%)" in warning[0]
            assert "it resets" in warning[0]

            serve.send("family", "@Pynchy two")  # 86% now: no second warning this period
            serve.wait_for(lambda: len(replies(serve, "family")) == 2, "the second answer")

            serve.send("family", "@Pynchy three")  # its first call passes the cap
            stopped = serve.wait_for(lambda: host_notices(serve, "family")[1:], "the stop")
            assert len(srv.requests) == 3  # the call after the tool never left the host
            (notice,) = stopped
            assert "budget reached: the daily budget of group family is 100,000 tokens" in notice
            assert "106,300 tokens are spent" in notice and "it resets" in notice

            runs_before = query(pynchy_home, "select id, status from runs")
            serve.send("family", "@Pynchy four")  # over budget: one notice, no model call
            refused = serve.wait_for(lambda: host_notices(serve, "family")[2:], "a refusal")
            assert len(refused) == 1 and refused[0].startswith("budget reached:")
            assert "group family" in refused[0]
            assert len(srv.requests) == 3
            assert replies(serve, "family") == ["first answer", "second answer"]
            assert sum("Budget warning" in n for n in host_notices(serve, "family")) == 1
        finally:
            serve.kill9()
    # the stopped run says why; the refused one never started (a warm run took 1 to 3)
    assert query(pynchy_home, "select id, status from runs") == runs_before
    (failed,) = query(pynchy_home, "select id, error from runs where status = 'failed'")
    assert "budget reached" in failed["error"]


def test_scheduled_task_over_budget_is_skipped_with_the_notice(cli, pynchy_home):
    with AnthropicServer(key=KEY) as srv:
        budget = {"budget": "{daily_usd = 1}"}
        write_config(pynchy_home, account("work", "anthropic", srv.base_url, KEY, **budget))
        cli("groups", "add", "family", "--model", SONNET, "--account", "work")
        insert_run(pynchy_home, "family", account="work", cost_usd=1.5)  # spent today
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        assert cli("tasks", "add", "-g", "family", "--at", past, "check the mail").exit_code == 0
        serve = Serve(pynchy_home, model=None).start()
        try:
            (notice,) = serve.wait_for(lambda: host_notices(serve, "family"), "the notice")
            serve.wait_for(
                lambda: (
                    query(pynchy_home, "select status from task_runs")[0]["status"] == "skipped"
                ),
                "the skipped task run",
            )
        finally:
            serve.kill9()
        assert srv.requests == []
    assert notice.startswith("Scheduled task 1 skipped: budget reached: the daily budget of")
    assert "account work is $1.00 and $1.50 is spent" in notice and "resets" in notice
    (task_run,) = query(pynchy_home, "select status, run_id, error from task_runs")
    assert task_run["run_id"] is None and "budget reached" in task_run["error"]
    assert len(query(pynchy_home, "select id from runs")) == 1  # only the inserted one


def test_agent_run_over_budget_is_one_line_and_a_periodic_task_is_skipped(cli, pynchy_home):
    cli("groups", "add", "main", "--admin", "--model", "echo", "--budget", "monthly=1000tokens")
    insert_run(pynchy_home, "main", input_tokens=900, output_tokens=200)
    cli("tasks", "add", "-g", "main", "--name", "mail", "--every", "1d", "check the mail")
    result = cli("agent", "run", "-m", "echo", "hello")
    assert result.exit_code == ExitCode.DENIED
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "pynchy: error: budget reached: the monthly budget of group main is 1,000 tokens"
        " and 1,100 tokens are spent; it resets "
    )
    assert line.endswith(
        "Raise it with: pynchy groups set main --budget monthly=..., or wait for the reset"
    )
    periodic = cli("agent", "run", "--periodic", "mail")
    assert periodic.exit_code == ExitCode.DENIED and "budget reached" in periodic.stderr
    (task_run,) = query(pynchy_home, "select status, error from task_runs")
    assert task_run["status"] == "skipped" and "budget reached" in task_run["error"]
    assert len(query(pynchy_home, "select id from runs")) == 1
    # Raised, the run goes ahead; the group shows its caps.
    assert cli("groups", "set", "main", "--budget", "monthly=2Mtokens").exit_code == 0
    assert cli("agent", "run", "-m", "echo", "hello").exit_code == 0
    shown = json.loads(cli("groups", "show", "main", "--json").stdout)
    assert shown["budget"] == {"monthly_tokens": 2_000_000}
    assert "monthly 2,000,000 tokens" in cli("groups", "show", "main").stdout


def fallback_config(primary_url: str, backup_url: str, **backup: str) -> str:
    return (
        'account = "primary"\n'
        + account("primary", "anthropic", primary_url, KEY, fallbacks='["backup"]')
        + account("backup", "anthropic", backup_url, BACKUP_KEY, **backup)
    )


def test_a_429_moves_to_the_fallback_account(cli, pynchy_home):
    with AnthropicServer(key=KEY) as primary, AnthropicServer(key=BACKUP_KEY) as backup:
        write_config(pynchy_home, fallback_config(primary.base_url, backup.base_url))
        primary.fail(429, times=20)
        backup.reply_tool_use("bash", {"command": "echo tool-ran"})
        backup.reply_text("answered by the backup account")
        result = cli("agent", "run", "-m", SONNET, "hello")
        assert result.exit_code == 0, result.output
        assert "answered by the backup account" in result.stdout
        assert "account primary rate limited: switched to account backup" in result.stderr
        assert primary.requests and len(backup.requests) == 2  # stays on the backup
        assert {primary.presented_key(r) for r in primary.requests} == {KEY}
        assert {backup.presented_key(r) for r in backup.requests} == {BACKUP_KEY}
    runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
    trace = json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)
    switches = [e["data"] for e in trace["events"] if e["kind"] == "fallback"]
    assert switches == [{"from_account": "primary", "to_account": "backup", "reason": RATE}]
    assert trace["run"]["account"] == "backup"
    by_account = json.loads(cli("usage", "--by", "account", "--json").stdout)["rows"]
    assert [(r["account"], r["runs"], r["input_tokens"]) for r in by_account] == [("backup", 1, 20)]


def test_a_fallback_over_its_budget_is_skipped(cli, pynchy_home):
    with AnthropicServer(key=KEY) as primary, AnthropicServer(key=BACKUP_KEY) as backup:
        write_config(
            pynchy_home,
            fallback_config(primary.base_url, backup.base_url, budget="{daily_tokens = 10}"),
        )
        primary.fail(429, times=20)
        result = cli("agent", "run", "-m", SONNET, "hello")
        assert result.exit_code == 1
        assert "rate limited (HTTP 429" in result.stderr
        assert "fallback account backup skipped: budget reached" in result.stderr
        assert backup.requests == []


@pytest.mark.parametrize(
    ("provider", "status", "body", "reason"),
    [
        ("anthropic", 429, {"error": {"type": "rate_limit_error", "message": "slow"}}, RATE),
        ("anthropic", 402, {"error": {"type": "billing_error", "message": "pay"}}, CREDIT),
        (
            "anthropic",
            400,
            {"error": {"type": "invalid_request_error", "message": "Your credit balance is too"}},
            CREDIT,
        ),
        ("openai", 429, {"error": {"type": "insufficient_quota", "code": None}}, CREDIT),
        ("openai", 429, {"error": {"type": "requests", "code": "insufficient_quota"}}, CREDIT),
        ("openai", 429, {"error": {"type": "requests", "code": "rate_limit_exceeded"}}, RATE),
        ("anthropic", 400, {"error": {"type": "invalid_request_error", "message": "bad"}}, None),
        ("anthropic", 529, {"error": {"type": "overloaded_error", "message": "busy"}}, None),
        ("openai", 401, {"error": {"code": "invalid_api_key"}}, None),
    ],
)
def test_which_refusals_move_to_a_fallback(provider, status, body, reason):
    error = status_error(provider, status, body, secret=None, key_var="KEY")
    assert fallback_reason(error) == reason


def test_an_openai_429_moves_to_the_fallback_too(cli, pynchy_home):
    with OpenAIServer(key="k1") as first, OpenAIServer(key="k2") as second:
        write_config(
            pynchy_home,
            'account = "one"\n'
            + account("one", "openai", first.base_url, "k1", fallbacks='["two"]')
            + account("two", "openai", second.base_url, "k2"),
        )
        first.fail(429, times=20)
        second.reply_text("from the second account")
        result = cli("agent", "run", "-m", "openai:gpt-4o", "hi")
        assert result.exit_code == 0, result.output
        assert "from the second account" in result.stdout
    assert query(pynchy_home, "select account from runs") == [{"account": "two"}]


def test_budget_flags_and_periods():
    from pynchy_cli.core.budgets import describe, parse_budget_flags, period_bounds
    from pynchy_cli.core.config import Budget
    from pynchy_cli.core.errors import UsageError

    caps = parse_budget_flags(["daily=5usd", "monthly=2Mtokens", "daily=1_500tokens"], None)
    assert caps == Budget(daily_usd=5, monthly_tokens=2_000_000, daily_tokens=1500)
    assert describe(caps) == "daily $5.00, daily 1,500 tokens, monthly 2,000,000 tokens"
    assert parse_budget_flags(["daily=$2.5"], caps).daily_usd == 2.5
    assert parse_budget_flags(["daily=off"], caps) == Budget(monthly_tokens=2_000_000)
    assert parse_budget_flags(["off"], caps) is None
    for bad in ("weekly=5usd", "daily=5", "daily=-1usd", "daily=0usd", "daily="):
        with pytest.raises(UsageError):
            parse_budget_flags([bad], None)

    december = datetime(2026, 12, 15, 12, tzinfo=UTC)
    start, end = period_bounds("monthly", december)
    assert start.astimezone().date().isoformat() == "2026-12-01"
    assert end.astimezone().date().isoformat() == "2027-01-01"
    start, end = period_bounds("daily", december)
    assert (end - start).total_seconds() in (82800, 86400, 90000)  # a DST day may be short
    assert start <= december < end
