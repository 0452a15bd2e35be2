"""The container engine's command line, pointed at the same API socket pynchy uses.

Images are built with `podman build` / `docker build` rather than through the API: the CLI
gives the familiar output and every builder feature. `podman --remote --url` and `docker -H`
make the CLI work on the engine behind `engine.url`, so a built image lands exactly where
the runtime will look for it, whichever user runs the command.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pynchy_cli.core.errors import UnavailableError
from pynchy_cli.core.runtimes.detect import EngineSocket

OnLine = Callable[[str], None]

INSTALL_HINT = "Install and start podman with: sudo scripts/setup-podman"


def engine_command(engine: EngineSocket) -> list[str]:
    """argv prefix that runs the engine's CLI against `engine`."""
    exe = shutil.which(engine.kind)
    if exe is None:
        raise UnavailableError(f"the {engine.kind} command is not installed", INSTALL_HINT)
    if engine.kind == "podman":
        return [exe, "--remote", "--url", engine.url]
    return [exe, "-H", engine.url]


@dataclass
class Completed:
    returncode: int
    tail: list[str]  # the last lines of output, for error messages

    @property
    def last_line(self) -> str:
        return next((line for line in reversed(self.tail) if line.strip()), "")


def run_streaming(
    argv: Sequence[str],
    on_line: OnLine | None = None,
    *,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> Completed:
    """Run argv, passing each line of its merged stdout/stderr to on_line as it comes.

    With a timeout, the process is killed once the time is up and the returncode is -9.
    """
    tail: deque[str] = deque(maxlen=30)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            env=env,
        )
    except FileNotFoundError as exc:
        raise UnavailableError(f"cannot run {argv[0]}: not found", INSTALL_HINT) from exc
    timer = None
    if timeout is not None:
        timer = threading.Timer(timeout, proc.kill)
        timer.daemon = True
        timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            if on_line is not None:
                on_line(line)
        returncode = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if timer is not None:
            timer.cancel()
    return Completed(returncode, list(tail))
