"""Stored text never drives the terminal: `pynchy chat`, `agent trace` and `agent logs` show
escape sequences, control characters and bidi overrides visibly instead of obeying them."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import bash, write_script
from servehelp import Serve

from pynchy_cli.cli.output import neutralise, neutralise_markup

CLEAR_AND_RETITLE = "\x1b[2J\x1b]0;pwned\x07"  # CSI erase-screen, OSC set-title ended by BEL
RLO = "\u202e"  # right-to-left override: "exe.txt" would read as "txt.exe"
SHOWN = "\\x1b[2J\\x1b]0;pwned\\x07"
RAW = ["\x1b", "\x07", "\x9b", RLO]


def assert_harmless(output: str) -> None:
    found = [repr(c) for c in RAW if c in output]
    assert not found, f"raw {found} reached the terminal:\n{output!r}"


def on_a_terminal(home: Path, *args: str) -> str:
    """What pynchy writes to a real (pseudo-)terminal, where rich adds its own styling."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYNCHY_HOME": str(home), "COLUMNS": "200", "TERM": "xterm"}
    with subprocess.Popen(
        [sys.executable, "-m", "pynchy_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 0, b"".join(chunks)
    os.close(leader)
    return b"".join(chunks).decode()


def assert_not_obeyed(output: str) -> None:
    """Rich's own styling escapes are fine; the hostile sequences must not be there."""
    for sequence in ("\x1b[2J", "\x1b]0;pwned", "\x07", RLO):
        assert sequence not in output, f"{sequence!r} reached the terminal:\n{output!r}"


def pynchy(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYNCHY_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "pynchy_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "text, shown",
    [
        (CLEAR_AND_RETITLE, SHOWN),
        (f"{RLO}gnp.exe", "\\u202egnp.exe"),
        ("\u2066isolate\u2069 \u202aembed\u202c", "\\u2066isolate\\u2069 \\u202aembed\\u202c"),
        ("\x9b31mred", "\\x9b31mred"),  # C1: a one-byte CSI
        ("back\x08\x08\x7f", "back\\x08\\x08\\x7f"),
        ("over\rwrite", "over\\x0dwrite"),  # a lone CR would overwrite the line
        ("lines\r\nand\ttabs\n", "lines\nand\ttabs\n"),  # kept: they only lay text out
        ("\x00\x1f", "\\x00\\x1f"),
        ("plain · ünïcode ✓", "plain · ünïcode ✓"),
    ],
)
def test_neutralise(text, shown):
    assert neutralise(text) == shown
    assert neutralise(shown) == shown  # shown text is already safe: nothing doubles


def test_markup_stays_text():
    assert neutralise_markup("[bold]x[/bold]\x1b") == "\\[bold]x\\[/bold]\\x1b"


def test_chat_shows_a_hostile_message_and_reply_neutralised(pynchy_home):
    service = Serve(pynchy_home).start()  # the echo model: the reply repeats the message
    try:
        line = f"look {CLEAR_AND_RETITLE} at {RLO}gnp.exe [bold]not bold[/bold]\n"
        out = pynchy(
            pynchy_home, "chat", "--port", str(service.port), "--as", f"eve{RLO}", stdin=line
        )
    finally:
        service.kill9()
    assert out.returncode == 0, out.stderr
    assert_harmless(out.stdout + out.stderr)
    reply = next(r for r in out.stdout.splitlines() if r.startswith("Pynchy: echo:"))
    assert f"eve\\u202e: look {SHOWN} at \\u202egnp.exe [bold]not bold[/bold]" in reply


@pytest.fixture
def hostile_run(pynchy_home, tmp_path):
    """A serve whose scripted model answers with escapes in its text, a tool's name, its
    arguments and its output; `pynchy chat` asked it once."""
    model = write_script(
        tmp_path / "hostile.json",
        [
            {
                "thinking": f"think {CLEAR_AND_RETITLE}",
                "text": f"reply {CLEAR_AND_RETITLE} {RLO}",
                "tool_calls": [
                    # printf writes the raw bytes: ESC, BEL and U+202E in UTF-8
                    bash(r"printf 'out \033[2J\033]0;pwned\007 \342\200\256 done\n'"),
                    {"name": f"tool{CLEAR_AND_RETITLE}", "input": {"arg": CLEAR_AND_RETITLE}},
                ],
            },
            {"text": f"final {CLEAR_AND_RETITLE}"},
        ],
    )
    service = Serve(pynchy_home, model=model).start()
    try:
        chat = pynchy(
            pynchy_home,
            "chat",
            "--port",
            str(service.port),
            stdin=f"go {CLEAR_AND_RETITLE}\n",
        )
    finally:
        service.kill9()
    runs = json.loads(pynchy(pynchy_home, "agent", "ps", "--all", "--json").stdout)
    return chat, runs[0]["id"]


def test_chat_shows_tools_and_their_output_neutralised(hostile_run):
    chat, _ = hostile_run
    assert chat.returncode == 0, chat.stderr
    assert_harmless(chat.stdout + chat.stderr)
    assert "→ bash" in chat.stdout
    assert f"stdout: out {SHOWN} \\u202e done" in chat.stdout  # the tool's output
    assert f"→ tool{SHOWN}" in chat.stdout  # an unknown tool's name
    assert f"Pynchy: final {SHOWN}" in chat.stdout


def test_trace_and_logs_show_the_run_neutralised(hostile_run, pynchy_home):
    _, run_id = hostile_run
    trace = pynchy(pynchy_home, "agent", "trace", run_id)
    assert trace.returncode == 0, trace.stderr
    assert_harmless(trace.stdout + trace.stderr)
    for shown in (
        f"go {SHOWN}",  # the prompt
        f"think {SHOWN}",
        f"reply {SHOWN} \\u202e",
        f"out {SHOWN} \\u202e done",
        f"tool{SHOWN}",
        '"arg": "\\u001b[2J\\u001b]0;pwned\\u0007"',  # JSON's own escapes
        f"final {SHOWN}",
    ):
        assert shown in trace.stdout, shown
    logs = pynchy(pynchy_home, "agent", "logs", run_id)
    assert logs.returncode == 0, logs.stderr
    assert_harmless(logs.stdout + logs.stderr)
    assert f"final {SHOWN}" in logs.stdout


def test_tables_show_stored_text_neutralised(pynchy_home):
    assert pynchy(pynchy_home, "groups", "add", "main", "--admin").returncode == 0
    prompt = f"remind {CLEAR_AND_RETITLE} {RLO} [red]me[/red]"
    added = pynchy(pynchy_home, "tasks", "add", "--group", "main", "--every", "1h", prompt)
    assert added.returncode == 0, added.stderr
    listed = pynchy(pynchy_home, "tasks", "list")
    assert_harmless(listed.stdout + listed.stderr)
    assert f"remind {SHOWN} \\u202e [red]me[/red]" in listed.stdout
    table = on_a_terminal(pynchy_home, "tasks", "list")
    assert_not_obeyed(table)
    assert "[red]me[/red]" in table  # as typed: not markup


def test_trace_on_a_terminal(hostile_run, pynchy_home):
    _, run_id = hostile_run
    shown = on_a_terminal(pynchy_home, "agent", "trace", run_id)
    assert_not_obeyed(shown)
    assert f"final {SHOWN}" in shown
