"""`pynchy usage` and prices: totals from the runs table (real runs through the providers'
fake servers, older days inserted directly), unknown costs shown as unknown, config prices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fakes.anthropic_server import AnthropicServer
from fakes.openai_server import OpenAIServer
from ledger_help import account, insert_run, query, write_config

from pynchy_cli.core.errors import ExitCode

ANTHROPIC_KEY = "sk-ant-test-usage-0123456789"
OPENAI_KEY = "sk-proj-test-usage-0123456789"


@pytest.fixture(autouse=True)
def process_runtime(monkeypatch):
    monkeypatch.setenv("PYNCHY_RUNTIME", "process")
    monkeypatch.setenv("PYNCHY_ALLOW_PROCESS_RUNTIME", "true")


def usage_json(cli, *args: str) -> dict:
    result = cli("usage", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_ok(cli, *args: str) -> None:
    result = cli("agent", "run", *args)
    assert result.exit_code == 0, result.output


def expected(home, key: str, since: str = "") -> dict:
    """The runs table summed by hand, to hold `pynchy usage` to."""
    where = "where runs.started_at >= ?" if since else ""
    rows = query(
        home,
        f"select {key} as key, count(*) as runs, sum(input_tokens) as input_tokens,"
        " sum(output_tokens) as output_tokens, sum(cost_usd) as cost_usd,"
        " sum(cost_usd is null) as unknown from runs join groups on groups.id = runs.group_id"
        f" {where} group by key",
        [since] if since else [],
    )
    return {r.pop("key"): r for r in rows}


def test_usage_sums_what_the_runs_table_holds(cli, pynchy_home):
    with AnthropicServer(key=ANTHROPIC_KEY) as claude, OpenAIServer(key=OPENAI_KEY) as gpt:
        write_config(
            pynchy_home,
            account("work", "anthropic", claude.base_url, ANTHROPIC_KEY)
            + account("home", "openai", gpt.base_url, OPENAI_KEY),
        )
        sonnet = "anthropic:claude-sonnet-5-5"
        cli("groups", "add", "alpha", "--model", sonnet, "--account", "work")
        cli("groups", "add", "beta", "--model", "openai:gpt-4o", "--account", "home")
        claude.reply_text("one", usage={"input_tokens": 1000, "output_tokens": 200})
        claude.reply_text(
            "two", usage={"input_tokens": 10, "output_tokens": 50, "cache_read_input_tokens": 4000}
        )
        gpt.reply_text("three", usage={"prompt_tokens": 3000, "completion_tokens": 100})
        run_ok(cli, "-g", "alpha", "first")
        run_ok(cli, "-g", "alpha", "second")
        run_ok(cli, "-g", "beta", "third")
        run_ok(cli, "-g", "main", "-m", "echo", "fourth")  # free, no account
    insert_run(pynchy_home, "alpha", days_ago=3, account="work", input_tokens=500, cost_usd=1.25)
    insert_run(
        pynchy_home, "beta", days_ago=40, account="home", model="openai:gpt-4o", cost_usd=None
    )

    by_account = usage_json(cli, "--by", "account")
    assert by_account["by"] == "account" and by_account["since"] is None
    rows = {r["account"]: r for r in by_account["rows"]}
    assert set(rows) == {"work", "home", "-"}
    # Cached input is input too: 1000 + (10 + 4000) today, 500 three days ago.
    assert rows["work"]["runs"] == 3 and rows["work"]["input_tokens"] == 5510
    assert rows["work"]["output_tokens"] == 250
    # sonnet 5.5: $2 in, $10 out, $0.10 cache reads per million; plus the old $1.25
    work_cost = (1000 * 2 + 200 * 10 + 10 * 2 + 50 * 10 + 4000 * 0.1) / 1e6 + 1.25
    assert rows["work"]["cost_usd"] == pytest.approx(work_cost)
    assert rows["home"]["unknown_cost_runs"] == 1  # the old run whose price was unknown
    assert rows["home"]["cost_usd"] == pytest.approx((3000 * 2.5 + 100 * 10) / 1e6)
    table = expected(pynchy_home, "coalesce(runs.account, '-')")
    for name, row in rows.items():
        want = table[name]
        assert (row["runs"], row["input_tokens"], row["output_tokens"]) == (
            want["runs"],
            want["input_tokens"],
            want["output_tokens"],
        )
        assert row["cost_usd"] == pytest.approx(want["cost_usd"])
        assert row["unknown_cost_runs"] == want["unknown"]
    total = by_account["total"]
    assert total["runs"] == 6 and total["unknown_cost_runs"] == 1
    assert total["input_tokens"] == sum(r["input_tokens"] for r in table.values())

    by_group = {r["group"]: r for r in usage_json(cli, "--by", "group")["rows"]}
    assert {k: v["runs"] for k, v in by_group.items()} == {"alpha": 3, "beta": 2, "main": 1}
    by_model = {r["model"]: r["runs"] for r in usage_json(cli, "--by", "model")["rows"]}
    assert by_model == {"anthropic:claude-sonnet-5-5": 3, "openai:gpt-4o": 2, "echo": 1}

    days = usage_json(cli, "--by", "day")["rows"]
    today = datetime.now(UTC).astimezone().date().isoformat()
    assert [d["day"] for d in days] == sorted(d["day"] for d in days)  # oldest first
    assert len(days) == 3 and days[-1]["day"] == today and days[-1]["runs"] == 4

    recent = usage_json(cli, "--by", "day", "--since", "2d")
    assert [d["day"] for d in recent["rows"]] == [today]
    week = usage_json(cli, "--by", "group", "--since", "7d")["rows"]
    assert {r["group"]: r["runs"] for r in week} == {"alpha": 3, "beta": 1, "main": 1}
    start = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    since_date = usage_json(cli, "--by", "account", "--since", start)
    assert since_date["total"]["runs"] == 5 and since_date["total"]["unknown_cost_runs"] == 0
    assert usage_json(cli, "--since", "today")["total"]["runs"] == 4
    assert usage_json(cli, "--since", "2999-01-01")["rows"] == []


def test_usage_plain_table_when_piped(cli, pynchy_home):
    run_ok(cli, "-m", "echo", "hello")
    result = cli("usage", "--by", "group")
    assert result.exit_code == 0, result.output
    header, row, total = result.stdout.strip().splitlines()
    assert header.split("\t") == ["group", "runs", "input_tokens", "output_tokens", "cost_usd"]
    assert row.split("\t")[:2] == ["main", "1"] and total.split("\t")[:2] == ["total", "1"]
    assert "█" not in result.stdout  # the bar chart is for terminals


@pytest.mark.parametrize(
    ("args", "word"),
    [(["--since", "yesterday-ish"], "bad --since"), (["--by", "week"], "cannot group usage")],
)
def test_usage_bad_values_are_one_line(cli, args, word):
    result = cli("usage", *args)
    assert result.exit_code == ExitCode.USAGE
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"pynchy: error: {word}")


def test_unknown_model_cost_shows_as_unknown_and_config_prices_apply(cli, pynchy_home):
    with OpenAIServer(key=None) as local:
        config = 'account = "local"\n' + account("local", "openai", local.base_url)
        write_config(pynchy_home, config)
        local.reply_text("a local answer")  # 20 prompt and 7 completion tokens
        run_ok(cli, "-m", "openai:llama3.2", "hi")
        runs = json.loads(cli("agent", "ps", "--all", "--json").stdout)
        trace = json.loads(cli("agent", "trace", runs[0]["id"], "--json").stdout)
        assert trace["run"]["cost_usd"] is None
        (used,) = [e["data"] for e in trace["events"] if e["kind"] == "usage"]
        assert used["cost_usd"] is None and used["input_tokens"] == 20
        assert "cost unknown" in cli("agent", "trace", runs[0]["id"]).stdout
        assert "unknown" in cli("agent", "ps", "--all").stdout.splitlines()[1]
        plain = cli("usage", "--by", "model").stdout
        assert plain.splitlines()[1].split("\t") == ["openai:llama3.2", "1", "20", "7", "unknown"]
        total = usage_json(cli)["total"]
        assert total["cost_usd"] is None and total["unknown_cost_runs"] == 1

        # A price in config makes the model's next runs priced.
        price = '\n[prices."openai:llama3.2"]\ninput_per_mtok = 1000\noutput_per_mtok = 2000\n'
        write_config(pynchy_home, config + price)
        local.reply_text("priced now")
        run_ok(cli, "-m", "openai:llama3.2", "again")
    latest = json.loads(cli("agent", "ps", "--all", "--json").stdout)[0]
    assert latest["cost_usd"] == pytest.approx((20 * 1000 + 7 * 2000) / 1e6)
    summary = usage_json(cli)["total"]
    assert summary["cost_usd"] == pytest.approx(0.034) and summary["unknown_cost_runs"] == 1
    line = cli("usage", "--by", "model").stdout.splitlines()[1]
    assert line.endswith("$0.0340 + unknown (1 run)")


def test_price_keys_and_fallbacks_are_checked_on_load(cli, pynchy_home):
    write_config(pynchy_home, '[prices."gpt-9"]\ninput_per_mtok = 1\noutput_per_mtok = 2\n')
    result = cli("config", "show")
    assert result.exit_code == ExitCode.CONFIG
    assert "PROVIDER:MODEL" in result.output
    write_config(
        pynchy_home,
        account("work", "anthropic", "http://127.0.0.1:9", "k", fallbacks='["home"]')
        + account("home", "openai", "http://127.0.0.1:9", "k"),
    )
    result = cli("config", "show")
    assert result.exit_code == ExitCode.CONFIG
    assert "accounts.work.fallbacks" in result.output and "an account of openai" in result.output
