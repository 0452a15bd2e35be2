"""`pynchy chat` against a real `pynchy serve`: it finds serve where it listens, follows the
group across serve restarts, and on a terminal is a line editor with history, a working
indicator and rendered markdown."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import bash, write_script
from servehelp import Serve, free_port
from termhelp import ENTER, UP, Terminal


@pytest.fixture
def serve(pynchy_home):
    service = Serve(pynchy_home).start()
    yield service
    if service.proc and service.proc.poll() is None:
        service.kill9()


def chat_env(home: Path) -> dict[str, str]:
    return {**os.environ, "PYNCHY_HOME": str(home)}


def pipe_chat(home: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", "chat", *args],
        input=text,
        capture_output=True,
        text=True,
        env=chat_env(home),
        timeout=120,
    )


def replies(serve: Serve, group: str = "main") -> list[dict]:
    return [m for m in serve.messages(group) if m["sender_kind"] == "assistant"]


# --- where serve listens ---------------------------------------------------------------


def test_chat_finds_serve_on_the_port_it_was_given(serve, pynchy_home):
    record = pynchy_home / "serve.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    saved = json.loads(record.read_text())
    assert saved["url"] == f"http://127.0.0.1:{serve.port}"
    assert saved["pid"] == serve.proc.pid and saved["started_at"]

    out = pipe_chat(pynchy_home, "hello there\n")  # no --port: serve.json says where
    assert out.returncode == 0, out.stderr
    assert "Pynchy: echo: " in out.stdout and "hello there" in out.stdout

    assert serve.terminate() == 0
    assert not record.exists()  # a clean stop removes it


def test_pipe_chat_prints_the_hosts_own_answers(serve, pynchy_home):
    """/status and /reset are answered by the host, not an agent: a pipe prints the answer
    instead of calling the line unaddressed."""
    out = pipe_chat(pynchy_home, "/status\n/reset\n")
    assert out.returncode == 0, out.stderr
    assert "conversations:" in out.stdout and "periodic agents, last 24 h" in out.stdout
    assert "Started a new session." in out.stdout
    assert "not addressed" not in out.stdout
    assert replies(serve) == []  # no agent ran


def test_chat_finds_serve_on_a_unix_socket(pynchy_home):
    folder = Path(tempfile.mkdtemp(prefix="pynchy-sock-"))  # short: socket paths are capped
    service = Serve(pynchy_home, socket=folder / "api.sock").start()
    try:
        assert json.loads((pynchy_home / "serve.json").read_text())["socket"] == str(
            folder / "api.sock"
        )
        out = pipe_chat(pynchy_home, "over the socket\n")
        assert out.returncode == 0, out.stderr
        assert "over the socket" in out.stdout and "Pynchy: echo: " in out.stdout
    finally:
        service.kill9()


def test_chat_ignores_the_record_of_a_dead_serve(serve, pynchy_home):
    # A record left by a serve that died (its pid is gone) pointing at nothing; the
    # configured address is where serve runs now.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (pynchy_home / "serve.json").write_text(
        json.dumps({"url": f"http://127.0.0.1:{free_port()}", "socket": None, "pid": dead.pid})
    )
    (pynchy_home / "config.toml").write_text(f"[api]\nport = {serve.port}\n")
    out = pipe_chat(pynchy_home, "still here?\n")
    assert out.returncode == 0, out.stderr
    assert "still here?" in out.stdout


# --- across serve restarts: a pipe -----------------------------------------------------


class PipeChat:
    """`pynchy chat` with a pipe we write to line by line."""

    def __init__(self, home: Path, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pynchy_cli", "chat", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=chat_env(home),
        )
        self.seen: list[str] = []

    def say(self, line: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read_until(self, needle: str) -> None:
        assert self.proc.stdout
        for _ in range(200):  # bounded: lines, not time
            line = self.proc.stdout.readline()
            assert line, f"chat ended before {needle!r}: {self.seen}"
            self.seen.append(line)
            if needle in line:
                return
        raise AssertionError(f"no {needle!r} in {self.seen}")

    def finish(self) -> tuple[int, str, str]:
        """End of input: chat answers what is left and exits."""
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self.proc.stdin.close()
        out, err = self.proc.stdout.read(), self.proc.stderr.read()
        return self.proc.wait(timeout=120), "".join(self.seen) + out, err


def test_pipe_chat_goes_on_across_a_serve_restart(serve, pynchy_home):
    chat = PipeChat(pynchy_home, "--port", str(serve.port))
    chat.say("before the restart")
    chat.read_until("you: before the restart")
    serve.kill9()
    serve.start()
    chat.say("after the restart")
    chat.read_until("you: after the restart")
    code, out, err = chat.finish()
    assert code == 0, err
    assert out.count("you: before the restart") == 1, out
    assert out.count("you: after the restart") == 1, out


def test_pipe_chat_fails_clearly_when_serve_stays_away(serve, pynchy_home):
    chat = PipeChat(pynchy_home, "--port", str(serve.port), "--give-up-after", "2")
    chat.say("one")
    chat.read_until("you: one")
    serve.kill9()
    chat.say("two")
    code, _, err = chat.finish()
    assert code != 0
    assert "pynchy: error: pynchy serve is not reachable at" in err
    assert "gave up after 2s" in err and "Traceback" not in err


# --- the screen ------------------------------------------------------------------------


@pytest.fixture
def screen(serve, pynchy_home):
    term = Terminal(pynchy_home, "chat", "--port", str(serve.port))
    yield term
    term.close()


def test_chat_screen_prompts_renders_markdown_and_recalls_history(screen, serve, pynchy_home):
    screen.expect("chatting in main")
    screen.expect("› ")
    screen.type("make it **bold** and `code`" + ENTER)
    reply = screen.expect(r"echo: \[[^\]]+\] you: make it (.*)\n")
    assert reply.group(1).strip() == "bold and code"  # rendered: no ** or backticks

    mark = len(screen.text())
    screen.type(UP)  # the line editor brings the last line back
    screen.expect("make it \\*\\*bold\\*\\* and `code`", after=mark)
    screen.type(ENTER)
    serve.wait_for(lambda: len(replies(serve)) == 2, "the second reply")

    people = [m["content"] for m in serve.messages("main") if m["sender_kind"] == "person"]
    assert people == ["make it **bold** and `code`"] * 2  # no raw escape bytes stored
    history = pynchy_home / "chat-history"
    assert "make it **bold**" in history.read_text()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600


def test_chat_screen_shows_the_agent_working_and_its_tool(serve, pynchy_home, cli, tmp_path):
    # The tool waits for a file the test writes: the indicator is looked at while it runs.
    model = write_script(
        tmp_path / "slow.json",
        [
            {"tool_calls": [bash("while [ ! -e go ]; do sleep 0.05; done; echo went")]},
            {"text": "all **done**"},
        ],
    )
    assert cli("groups", "add", "work", "--model", model).exit_code == 0
    term = Terminal(pynchy_home, "chat", "--port", str(serve.port), "--group", "work")
    try:
        term.expect("› ")
        term.type("@Pynchy go ahead" + ENTER)
        term.expect("Pynchy is working · bash…")
        (pynchy_home / "groups" / "work" / "go").touch()
        term.expect(r"all done *\n")
        assert "all **done**" not in term.text()
        # The indicator went away: the screen as last drawn (after the last prompt) is idle.
        term.wait_until(lambda text: "is working" not in text.rsplit("› ", 1)[1], "idle")
    finally:
        term.close()


def test_chat_screen_reconnects_and_shows_what_came_meanwhile(screen, serve, pynchy_home):
    screen.expect("› ")
    screen.type("first" + ENTER)
    screen.expect("you: first")

    # While chat is frozen, serve restarts and bob's message is answered: chat must
    # notice, reconnect and show both once.
    os.kill(screen.proc.pid, signal.SIGSTOP)
    serve.kill9()
    serve.start()
    serve.send("main", "meanwhile from bob", sender="bob")
    serve.wait_for(lambda: len(replies(serve)) == 2, "bob's reply")
    os.kill(screen.proc.pid, signal.SIGCONT)
    lost = screen.expect("serve is not reachable, reconnecting…")
    screen.expect("reconnected", after=lost.end())
    screen.expect("bob: meanwhile from bob", after=lost.end())
    screen.expect("echo: .* bob: meanwhile from bob", after=lost.end())

    # A line typed while serve is down is kept and sent once it is back.
    serve.kill9()
    down = screen.expect("serve is not reachable, reconnecting…", after=lost.end())
    screen.type("typed while down" + ENTER)
    screen.expect("your message is kept and sent once reconnected", after=down.end())
    serve.start()
    screen.expect("reconnected", after=down.end())
    screen.expect("you: typed while down", after=down.end())

    text = screen.text()
    assert text.count("you: first") == 1, text
    assert len(re.findall(r"echo: .* bob: meanwhile from bob", text)) == 1, text
    assert text.count("you: typed while down") == 1, text
    with sqlite3.connect(pynchy_home / "pynchy.db") as db:
        stored = db.execute("select count(*) from messages where content = 'typed while down'")
        assert stored.fetchone()[0] == 1
