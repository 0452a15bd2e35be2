"""The Slack channel plugin end to end: `pynchy serve --model echo --runtime process` with
pynchy-slack installed in the venv (pip install -e ./plugins/pynchy-slack), its real client
library (slack_sdk) talking to a local Slack: plugins/pynchy-slack/tests/slack_fake.py."""

from __future__ import annotations

import importlib.metadata as md
import json
import sqlite3
import sys
from pathlib import Path

import pytest
from servehelp import Serve

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "pynchy-slack"
sys.path.insert(0, str(PLUGIN / "tests"))

from slack_fake import APP_TOKEN, BOT_TOKEN, BOT_USER, FakeSlack  # noqa: E402

OPS, FAM = "C0OPS", "C0FAM"


@pytest.fixture(autouse=True)
def _plugin_installed():
    if not any(ep.name == "slack" for ep in md.entry_points(group="pynchy")):
        pytest.fail(
            "pynchy-slack is not installed: .venv/bin/pip install -e ./plugins/pynchy-slack"
            " (scripts/test does)",
            pytrace=False,
        )


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def start_serve(home: Path, slack: FakeSlack, cli, *args: str) -> Serve:
    assert (
        cli("groups", "add", "ops", "--admin", "--channel", "slack", "--chat", OPS).exit_code == 0
    )
    assert cli("groups", "add", "fam", "--channel", "slack", "--chat", FAM).exit_code == 0
    (home / "config.toml").write_text(
        "[limits]\nidle_timeout = 0\n\n[plugin.slack]\nping_interval = 0.3\n"
    )
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": slack.base_url,
    }
    service = Serve(home, *args, env=env).start()
    service.wait_for(lambda: slack.connected, "the Slack connection")
    return service


@pytest.fixture
def serve(pynchy_home, slack, cli):
    service = start_serve(pynchy_home, slack, cli)
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def of_kind(serve: Serve, group: str, kind: str) -> list[dict]:
    return [m for m in serve.messages(group) if m["sender_kind"] == kind]


def test_a_message_gets_its_reply_with_typing_shown(serve, slack):
    ts = slack.say(OPS, "hello from slack")
    post = serve.wait_for(lambda: slack.posts_in(OPS), "the reply")[0]
    assert post["text"].startswith("echo: ") and "ann: hello from slack" in post["text"]
    serve.wait_for(
        lambda: slack.reactions_on(OPS, ts) == ["add", "remove"], "typing shown, then cleared"
    )
    [person] = of_kind(serve, "ops", "person")
    assert (person["sender"], person["content"]) == ("ann", "hello from slack")
    # The bot's own post came back as an event and was not taken for a person's message.
    serve.wait_for(lambda: not slack.unacked, "every envelope acknowledged")
    assert len(of_kind(serve, "ops", "person")) == 1

    slack.say(OPS, "approve 12")  # approval replies are ordinary messages
    serve.wait_for(lambda: len(slack.posts_in(OPS)) == 2, "the second reply")
    assert of_kind(serve, "ops", "person")[-1]["content"] == "approve 12"

    slack.say("C0NOBODY", "a chat no group is mapped to")
    slack.say(OPS, "reset")  # answered by a host notice, rendered apart
    notice = serve.wait_for(lambda: slack.posts_in(OPS)[2:], "the notice")[0]
    assert notice["text"] == ":gear: _pynchy:_ Started a new session."
    assert not slack.posts_in("C0NOBODY")
    assert "C0NOBODY" not in str(serve.messages("ops")) + str(serve.messages("fam"))
    assert "messages in chat C0NOBODY ignored" in (serve.home / "serve-stdout.log").read_text()


def test_a_long_reply_is_split_within_the_limit(serve, slack):
    words = [f"word{i}" for i in range(1500)]
    slack.say(OPS, " ".join(words))
    serve.wait_for(lambda: of_kind(serve, "ops", "assistant"), "the reply")
    reply = of_kind(serve, "ops", "assistant")[0]["content"]
    assert len(reply) > 2 * 3900
    posts = serve.wait_for(
        lambda: (
            (p := slack.posts_in(OPS))
            and " ".join(x["text"] for x in p).split()[-1] == words[-1]
            and p
        ),
        "every part",
    )
    assert len(posts) >= 3 and all(len(p["text"]) <= 3900 for p in posts)
    assert " ".join(p["text"] for p in posts).split() == reply.split()


def test_a_mention_is_the_trigger_in_a_non_admin_group(serve, slack):
    slack.say(FAM, "dinner at 7?")
    slack.say(FAM, f"<@{BOT_USER}> what did I just say?")  # a message and an app_mention event
    post = serve.wait_for(lambda: slack.posts_in(FAM), "the reply")[0]
    assert "ann: dinner at 7?" in post["text"]
    assert "ann: @Pynchy what did I just say?" in post["text"]
    assert [m["content"] for m in of_kind(serve, "fam", "person")] == [
        "dinner at 7?",
        "@Pynchy what did I just say?",
    ]
    serve.wait_for(lambda: not slack.unacked, "every envelope acknowledged")
    assert len(slack.posts_in(FAM)) == 1


def test_network_loss_mid_conversation_loses_and_doubles_nothing(serve, slack):
    slack.down_after_reaction = True  # the network goes as soon as the agent starts
    first = slack.say(OPS, "one")
    serve.wait_for(
        lambda: slack.refused["chat.postMessage"] >= 1, "a reply tried during the outage"
    )
    serve.wait_for(lambda: slack.refused["apps.connections.open"] >= 1, "a reconnect tried")
    slack.say(OPS, "two, while down")
    slack.say(OPS, "three, while down")
    slack.drop_post_responses = 1  # and the first post after it loses its answer
    slack.go_up()

    def settled():
        messages = serve.messages("ops")
        assistant = [m for m in messages if m["sender_kind"] == "assistant"]
        persons = [m for m in messages if m["sender_kind"] == "person"]
        done = len(persons) >= 3 and messages[-1]["sender_kind"] == "assistant"
        return done and len(slack.posts_in(OPS)) == len(assistant) and (messages, assistant)

    messages, assistant = serve.wait_for(settled, "everything answered and posted")
    persons = [m["content"] for m in messages if m["sender_kind"] == "person"]
    assert persons == ["one", "two, while down", "three, while down"]
    texts = [p["text"] for p in slack.posts_in(OPS)]
    assert sorted(texts) == sorted(a["content"] for a in assistant)
    assert len(set(texts)) == len(texts)
    assert "ann: one" in texts[0] and "three, while down" in texts[-1]
    assert slack.refused["chat.postMessage(stored)"] == 1
    assert any(e["retry_attempt"] >= 1 for e in slack.sent_envelopes)  # Slack redelivered too
    serve.wait_for(lambda: slack.reactions_on(OPS, first) == ["add", "remove"], "typing cleared")


def test_the_tokens_never_reach_the_agent(pynchy_home, slack, cli, tmp_path):
    script = tmp_path / "env.json"
    script.write_text(
        json.dumps(
            {
                "turns": [
                    {"tool_calls": [{"name": "bash", "input": {"command": "env"}}]},
                    {"text": "ok"},
                ]
            }
        )
    )
    service = start_serve(pynchy_home, slack, cli, "--model", f"scripted:{script}")
    try:
        slack.say(OPS, "show me your environment")
        service.wait_for(lambda: slack.posts_in(OPS), "the reply")
    finally:
        service.kill9()
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        events = " ".join(row[0] for row in db.execute("select data from run_events"))
    assert "PATH=" in events  # the agent's environment was captured
    assert BOT_TOKEN not in events and APP_TOKEN not in events and "SLACK_" not in events
