"""The Telegram channel end to end: `pynchy serve` with the pynchy-telegram plugin
pip-installed (as a user would) into a temporary folder on its PYTHONPATH, its real client
library (python-telegram-bot) talking to a local Bot API server (the plugin's
tests/fake_telegram.py), the echo model and the process runtime."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from servehelp import Serve

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "pynchy-telegram"
sys.path.insert(0, str(PLUGIN / "tests"))

from fake_telegram import FakeTelegram  # noqa: E402

DM = 4242  # Ann's private chat with the bot: the admin group "home"
FAMILY = -1001  # a group chat: the non-admin group "family"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install ./plugins/pynchy-telegram` into a folder of its own: only the serve
    processes of this module see the plugin. Its dependency, python-telegram-bot, comes
    from pynchy's environment (scripts/test installs it)."""
    try:
        import telegram  # noqa: F401
    except ImportError:
        pytest.fail("python-telegram-bot is missing: pip install 'python-telegram-bot>=22,<23'")
    target = tmp_path_factory.mktemp("plugin-target")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target"]
        + [str(target), str(PLUGIN)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (target / "pynchy_telegram").is_dir()
    return target


@pytest.fixture
def fake():
    server = FakeTelegram()
    server.add_chat(DM, "private", "Ann")
    server.add_chat(FAMILY, "supergroup", "Family")
    with server:
        yield server


@pytest.fixture
def serve(pynchy_home: Path, plugin_path: Path, fake: FakeTelegram, cli):
    home = cli("groups", "add", "home", "--admin", "--channel", "telegram", "--chat", str(DM))
    assert home.exit_code == 0, home.output
    family = cli("groups", "add", "family", "--channel", "telegram", "--chat", str(FAMILY))
    assert family.exit_code == 0, family.output
    (pynchy_home / "config.toml").write_text(
        "[plugin.telegram]\n"
        f'api_url = "{fake.api_url}"\n'
        "poll_timeout = 2\n"
        "reconnect_max_delay = 0.5\n"
    )
    service = Serve(
        pynchy_home,
        env={"PYTHONPATH": str(plugin_path), "TELEGRAM_BOT_TOKEN": fake.token},
    ).start()
    service.wait_for(lambda: fake.called("getUpdates"), "the channel's first poll")
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def by_kind(serve: Serve, group: str, kind: str) -> list[str]:
    return [m["content"] for m in serve.messages(group) if m["sender_kind"] == kind]


def texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [s.text for s in fake.sent_to(chat)]


def test_message_gets_its_reply_with_typing(serve: Serve, fake: FakeTelegram) -> None:
    fake.post(DM, "hello pynchy")
    reply = serve.wait_for(lambda: texts(fake, DM), "the reply on Telegram")
    assert len(reply) == 1 and reply[0].startswith("echo: ") and "Ann: hello pynchy" in reply[0]
    assert (DM, "typing") in fake.actions  # shown while the agent ran
    assert by_kind(serve, "home", "person") == ["hello pynchy"]
    assert by_kind(serve, "home", "assistant") == [reply[0]]
    assert fake.sent_to(DM)[0].parse_mode == "HTML"

    fake.post(DM, "approve 12")  # approval replies pass through like any message
    serve.wait_for(lambda: len(texts(fake, DM)) == 2, "the second reply")
    assert by_kind(serve, "home", "person") == ["hello pynchy", "approve 12"]


def test_mention_is_the_trigger_and_a_long_reply_is_split(serve: Serve, fake: FakeTelegram):
    first = " ".join(f"a{i}" for i in range(700))  # ~3,400 characters each
    second = " ".join(f"b{i}" for i in range(700))
    fake.post(FAMILY, first)  # not addressed: stored, no run
    fake.post(FAMILY, second)
    fake.post(FAMILY, "@pynchy_test_bot please sum up")
    parts = serve.wait_for(
        lambda: (sent := texts(fake, FAMILY)) and "up" in sent[-1].split()[-1:] and sent,
        "every part of the reply",
    )
    assert len(parts) >= 2 and all(len(p) <= 4096 for p in parts)
    persons = by_kind(serve, "family", "person")
    assert persons == [first, second, "@Pynchy please sum up"]
    [reply] = by_kind(serve, "family", "assistant")  # one reply, catching up on all three
    words = " ".join(parts).split()
    assert words == reply.split()
    assert words.count("a699") == 1 and words.count("b0") == 1


def test_connection_loss_loses_and_doubles_nothing(serve: Serve, fake: FakeTelegram) -> None:
    fake.post(DM, "one")
    serve.wait_for(lambda: len(texts(fake, DM)) == 1, "the first reply")

    fake.go_down()  # the long poll in flight is cut; reconnects are refused
    fake.post(DM, "two")  # written while pynchy cannot reach Telegram
    fake.post(DM, "three")
    serve.wait_for(lambda: "telegram: connection lost" in serve.log.read_text(), "the loss")
    fake.come_up()
    serve.wait_for(lambda: "three" in " ".join(texts(fake, DM)), "the replies to what was missed")

    fake.drop("sendMessage", times=2)  # a reply's connection is cut twice before it lands
    fake.post(DM, "four")
    serve.wait_for(lambda: "four" in texts(fake, DM)[-1], "the reply to four")
    assert "send to chat 4242 failed" in serve.log.read_text()

    assert by_kind(serve, "home", "person") == ["one", "two", "three", "four"]
    replies = by_kind(serve, "home", "assistant")
    assert texts(fake, DM) == replies  # each reply posted exactly once, in order

    # A restart fetches nothing again and re-sends nothing.
    assert serve.terminate() == 0
    confirmed = len(fake.called("getUpdates"))
    serve.start()
    serve.wait_for(lambda: len(fake.called("getUpdates")) > confirmed, "the new poll")
    fake.post(DM, "five")
    serve.wait_for(lambda: "five" in texts(fake, DM)[-1], "the reply to five")
    assert by_kind(serve, "home", "person") == ["one", "two", "three", "four", "five"]
    assert texts(fake, DM) == by_kind(serve, "home", "assistant")
    assert fake.token not in serve.log.read_text()


def test_without_a_token_serve_runs_and_says_what_to_set(
    pynchy_home: Path, plugin_path: Path
) -> None:
    service = Serve(pynchy_home, env={"PYTHONPATH": str(plugin_path)}).start()
    try:
        service.send("main", "still here")
        service.wait_for(
            lambda: by_kind(service, "main", "assistant"), "the terminal channel's reply"
        )
        log = service.log.read_text()
        assert "channel telegram not started: telegram: no bot token" in log
    finally:
        service.kill9()
