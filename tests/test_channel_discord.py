"""The Discord channel plugin end to end: `pynchy serve --model echo --runtime process` with the
plugin pynchy-discord (installed in the venv: scripts/test runs
`pip install -e ./plugins/pynchy-discord`), its real discord.py client, and a local server
that speaks Discord's REST API and Gateway (plugins/pynchy-discord/tests/fake_discord.py)."""

from __future__ import annotations

import importlib.metadata as md
import sqlite3
import sys
from pathlib import Path

import pytest
from servehelp import Serve

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins" / "pynchy-discord"
sys.path.insert(0, str(PLUGIN_DIR / "tests"))

from fake_discord import FakeDiscord  # noqa: E402


def _plugin_installed() -> None:
    if "discord" not in {ep.name for ep in md.entry_points(group="pynchy")}:
        pytest.fail(
            "the pynchy-discord plugin is not installed: pip install -e ./plugins/pynchy-discord"
            " (scripts/test does this)"
        )


class Rig:
    def __init__(self, home: Path, cli, fake: FakeDiscord, *, token: str | None):
        self.home, self.fake = home, fake
        self.main_chat = fake.add_channel("general")
        self.family_chat = fake.add_channel("family")
        (home / "config.toml").write_text(f'[plugin.discord]\napi_base = "{fake.api_base}"\n')
        for args in (
            ("main", "--admin", "--chat", self.main_chat),
            ("family", "--chat", self.family_chat),
        ):
            name, *rest = args
            result = cli("groups", "add", name, "--channel", "discord", *rest)
            assert result.exit_code == 0, result.output
        env = {"PYNCHY_PLUGINS": "discord"}
        if token:
            env["DISCORD_BOT_TOKEN"] = token
        self.serve = Serve(home, env=env)

    def start(self) -> Rig:
        self.serve.start()
        self.serve.wait_for(self.fake.connected, "the bot's Gateway session")
        return self

    def replies(self, chat: str) -> list[str]:
        return [m["content"] for m in self.fake.bot_messages(chat)]

    def wait_reply(self, chat: str, needle: str) -> list[str]:
        return self.serve.wait_for(
            lambda: [c for c in self.replies(chat) if needle in c], f"a reply with {needle!r}"
        )

    def db(self, sql: str, args=()) -> list[tuple]:
        with sqlite3.connect(self.home / "pynchy.db") as db:
            return db.execute(sql, args).fetchall()


@pytest.fixture
def fake():
    _plugin_installed()
    server = FakeDiscord().start()
    yield server
    server.close()


@pytest.fixture
def rig(pynchy_home, cli, fake):
    rig = Rig(pynchy_home, cli, fake, token=fake.token).start()
    yield rig
    if rig.serve.proc and rig.serve.proc.poll() is None:
        rig.serve.kill9()


def test_a_message_gets_its_agents_reply(rig):
    fake = rig.fake
    sent = fake.post_as_user(rig.main_chat, "hello pynchy, tell @everyone")
    reply = rig.wait_reply(rig.main_chat, "hello pynchy")[0]
    assert reply.startswith("echo: ") and "Ann: hello pynchy" in reply
    assert "@\u200beveryone" in reply  # defused, and no mention was allowed either
    assert not any(m["mention_everyone"] for m in fake.bot_messages(rig.main_chat))
    assert all(b["allowed_mentions"] == {"parse": []} for b in fake.post_bodies())
    assert rig.db("select platform_id, sender from messages where sender_kind = 'person'") == [
        (sent["id"], "Ann")
    ]
    # typing was shown while the agent ran
    rig.serve.wait_for(lambda: fake.typing_count(rig.main_chat) >= 1, "typing")
    # Approval answers are plain messages: passed through unchanged.
    fake.post_as_user(rig.main_chat, "approve 12")
    rig.wait_reply(rig.main_chat, "approve 12")
    # The token stays on the host: not in the database, not in the logs.
    log_text = (rig.home / "serve-stdout.log").read_text()
    assert fake.token not in log_text
    assert not rig.db("select id from messages where content like ?", [f"%{fake.token}%"])


def test_mention_triggers_a_group_and_a_long_reply_is_split(rig):
    fake = rig.fake
    first, second = "a" * 1500, "b" * 1500
    fake.post_as_user(rig.family_chat, first)
    fake.post_as_user(rig.family_chat, second)
    fake.post_as_user(rig.family_chat, f"{fake.mention()} what did we say?")
    rig.serve.wait_for(
        lambda: rig.db("select id from messages where group_id = 2 and sender_kind='assistant'"),
        "the family reply",
    )
    parts = rig.serve.wait_for(
        lambda: (p := rig.replies(rig.family_chat)) and "what did we say" in p[-1] and p,
        "every part of the reply",
    )
    assert len(parts) >= 2
    assert all(len(p) <= 2000 for p in parts)
    whole = "".join(parts)
    assert first in whole.replace("\n", "") and second in whole.replace("\n", "")
    stored = rig.db("select content from messages where group_id = 2 and sender_kind='person'")
    assert stored[-1] == ("@Pynchy what did we say?",)
    # one reply, and nothing for the two messages that did not address the bot
    assert len(rig.db("select id from messages where group_id=2 and sender_kind='assistant'")) == 1


def test_dropped_connection_loses_and_doubles_nothing(rig):
    fake = rig.fake
    fake.post_as_user(rig.main_chat, "before the drop")
    rig.wait_reply(rig.main_chat, "before the drop")

    # The network goes away; people keep writing. discord.py resumes, Discord replays.
    fake.drop()
    fake.post_as_user(rig.main_chat, "during the drop one")
    fake.post_as_user(rig.main_chat, "during the drop two")
    rig.serve.wait_for(lambda: fake.counters()["refused"] >= 1, "a refused reconnect")
    fake.restore()
    rig.wait_reply(rig.main_chat, "during the drop two")
    rig.wait_reply(rig.main_chat, "during the drop one")
    assert fake.counters()["resumes"] >= 1

    # Longer away: the session expired, so a new one starts and the history is fetched.
    fake.drop(forget_sessions=True)
    fake.post_as_user(rig.main_chat, "while the session expired")
    rig.serve.wait_for(lambda: fake.counters()["refused"] >= 1, "a refused reconnect")
    fake.restore()
    rig.wait_reply(rig.main_chat, "while the session expired")
    counters = fake.counters()
    assert counters["invalidated"] >= 1 and counters["identifies"] >= 2

    people = [
        r[0] for r in rig.db("select content from messages where sender_kind='person' order by id")
    ]
    assert people == [
        "before the drop",
        "during the drop one",
        "during the drop two",
        "while the session expired",
    ]
    ids = rig.db("select platform_id from messages where sender_kind='person'")
    assert len(set(ids)) == len(ids) == 4
    # Every reply pynchy recorded was posted exactly once, and nothing else was.
    rig.serve.wait_for(
        lambda: not rig.db("select key from outbound where sent_at is null"), "all delivered"
    )
    answers = rig.db("select content from messages where sender_kind='assistant' order by id")
    assert sorted(rig.replies(rig.main_chat)) == sorted(a[0] for a in answers)


def test_a_reply_resent_after_a_crash_is_not_posted_twice(rig):
    fake = rig.fake
    fake.post_as_user(rig.main_chat, "remember me")
    rig.wait_reply(rig.main_chat, "remember me")
    rig.serve.kill9()
    # As if serve had died between posting the reply and recording its delivery.
    with sqlite3.connect(rig.home / "pynchy.db") as db:
        db.execute("update outbound set sent_at = null")
    rig.start()  # serve resends undelivered replies with their keys
    rig.serve.wait_for(
        lambda: not rig.db("select key from outbound where sent_at is null"), "the resend"
    )
    assert len(rig.replies(rig.main_chat)) == 1


def test_serve_without_a_token_skips_the_channel(pynchy_home, cli, fake):
    rig = Rig(pynchy_home, cli, fake, token=None)
    rig.serve.start()
    try:
        log = rig.serve.wait_for(
            lambda: "channel discord not started" in (t := rig.serve.log.read_text()) and t,
            "the skipped channel in the log",
        )
        assert "no bot token" in log
        assert rig.serve.get("/health", auth=False)["ok"] is True
        assert not fake.connected()
    finally:
        rig.serve.kill9()
