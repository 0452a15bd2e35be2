"""The X plugin end to end: `pynchy serve --runtime process` with pynchy-x installed in the
venv (pip install -e ./plugins/pynchy-x), a scripted agent that reads a post and replies
to it through the plugin's MCP server, tweepy talking to a local X API v2
(plugins/pynchy-x/tests/x_fake.py), and a person approving the reply on the channel."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from helpers import write_script
from servehelp import Serve

from pynchy_cli import testing

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "pynchy-x"
sys.path.insert(0, str(PLUGIN / "tests"))

from x_fake import (  # noqa: E402
    ACCESS_SECRET,
    ACCESS_TOKEN,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    USER_ID,
    FakeX,
)

# every variable the plugin reads, emptied: config.toml decides, never the developer's shell
X_VARIABLES = (
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
    "X_BEARER_TOKEN",
    "X_API_URL",
    "X_MAX_POST_LENGTH",
)


@pytest.fixture(autouse=True)
def _plugin_installed():
    if not any(ep.name == "x" for ep in md.entry_points(group="pynchy")):
        pytest.fail(
            "pynchy-x is not installed: .venv/bin/pip install -e ./plugins/pynchy-x"
            " (scripts/test does)",
            pytrace=False,
        )


fake_x = testing.server_fixture(FakeX)


def configure(home: Path, fake: FakeX) -> None:
    (home / "config.toml").write_text(
        "[limits]\napproval_timeout = 120\n\n[plugin.x]\n"
        f'consumer_key = "{CONSUMER_KEY}"\nconsumer_secret = "{CONSUMER_SECRET}"\n'
        f'access_token = "{ACCESS_TOKEN}"\naccess_token_secret = "{ACCESS_SECRET}"\n'
        f'api_url = "{fake.url}"\n'
    )


def approvals_asked(serve: Serve) -> list[tuple[str, str]]:
    """(approval id, the request's text) of each approval asked for in main."""
    asked = []
    for message in serve.messages("main"):
        found = re.search(r"Reply 'approve (\w+)'", message["content"])
        if message["sender_kind"] == "host" and found:
            asked.append((found.group(1), message["content"]))
    return asked


def test_an_agent_reads_a_post_and_replies_once_a_person_approves(pynchy_home, tmp_path, fake_x):
    theirs = next(iter(fake_x.posts))
    configure(pynchy_home, fake_x)
    model = write_script(
        tmp_path / "script.json",
        [
            {"tool_calls": [{"name": "mcp__x__get_post", "input": {"post": theirs}}]},
            {
                "tool_calls": [
                    {
                        "name": "mcp__x__reply",
                        "input": {"post": theirs, "text": "Daily. It keeps my keys at home."},
                    }
                ]
            },
            {"text": "replied on X"},
        ],
    )
    env = {**dict.fromkeys(X_VARIABLES, ""), "PYNCHY_PLUGINS": "x"}
    serve = Serve(pynchy_home, model=model, env=env).start()
    try:
        serve.send("main", "answer ann's question on X")
        [(approval, request)] = serve.wait_for(lambda: approvals_asked(serve), "the approval")
        assert "mcp__x__reply" in request and "read untrusted content" in request
        # reading ran without a person; nothing was published before one said yes
        assert len(fake_x.made("GET", f"/2/tweets/{theirs}")) == 1
        assert fake_x.made("POST", "/2/tweets") == []
        serve.send("main", f"approve {approval}", sender="bob")
        serve.wait_for(
            lambda: any(m["content"] == "replied on X" for m in serve.messages("main")),
            "the run to finish",
        )
        assert len(approvals_asked(serve)) == 1  # the read never asked
    finally:
        serve.kill9()
    [created] = fake_x.made("POST", "/2/tweets")
    assert created["json"] == {
        "text": "Daily. It keeps my keys at home.",
        "reply": {"in_reply_to_tweet_id": theirs},
    }
    assert created["authorization"].startswith("OAuth ") and created["auth"] == USER_ID
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        decided = db.execute("select tool, status, decided_by from approvals").fetchall()
        results = [
            json.loads(row[0])
            for row in db.execute("select data from run_events where kind = 'tool_result'")
        ]
    assert decided == [("mcp__x__reply", "approved", "bob")]
    read, replied = results
    assert "Has anyone tried pynchy?" in read["content"] and not read["is_error"]
    [mine] = [pid for pid, p in fake_x.posts.items() if p["author_id"] == USER_ID]
    assert (
        replied["content"] == f"replied to {theirs} with post {mine}: https://x.com/i/status/{mine}"
    )
    # the credentials stayed on the host: nothing of them in what the run stored
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        stored = " ".join(str(r) for r in db.execute("select * from run_events"))
    assert CONSUMER_SECRET not in stored and ACCESS_SECRET not in stored
