"""A program on a pseudo-terminal, driven like a person at a keyboard (stdlib pty only)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

# Escape sequences a terminal obeys (colours, cursor moves, modes), removed to read the text.
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[()][0-9A-Za-z]"  # character sets
    r"|\x1b[=>78MDEHc]"
)
CURSOR_QUERY = b"\x1b[6n"  # prompt_toolkit asks, to know the room below the prompt
UP = "\x1b[A"
ENTER = "\r"


class Terminal:
    def __init__(self, home: Path, *args: str, cols: int = 160, rows: int = 40):
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {
            **os.environ,
            "PYNCHY_HOME": str(home),
            "TERM": "xterm-256color",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pynchy_cli", *args],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            start_new_session=True,
        )
        os.close(follower)
        self.fd = leader
        self.raw = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the program's end closed
                return
            if not chunk:
                return
            for _ in range(chunk.count(CURSOR_QUERY)):  # as a terminal does: where the cursor is
                os.write(self.fd, b"\x1b[1;1R")
            with self._lock:
                self.raw.extend(chunk)

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def text(self) -> str:
        """Everything written so far, without escape sequences."""
        with self._lock:
            raw = bytes(self.raw)
        return ANSI.sub("", raw.decode(errors="replace")).replace("\r", "")

    def expect(self, pattern: str, after: int = 0, tries: int = 600) -> re.Match:
        """Wait (bounded) until the text from `after` on matches the regex."""
        for _ in range(tries):
            found = re.compile(pattern).search(self.text(), after)
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} on the terminal:\n{self.text()[after:][-3000:]}")

    def wait_until(self, check, what: str, tries: int = 600) -> None:
        """Wait (bounded) until check(text) holds."""
        for _ in range(tries):
            if check(self.text()):
                return
            time.sleep(0.05)
        raise AssertionError(f"never {what}:\n{self.text()[-3000:]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self.fd)
