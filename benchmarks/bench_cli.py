"""CLI start-up: `pynchy --version`, the root help (kept and made anew), a listing command
and a whole `pynchy agent run` from the shell, each against the floor it cannot beat.

    .venv/bin/python benchmarks/bench_cli.py [--repeat N]

Peers: a bare interpreter start, and a two-command typer app with rich help (what any typer
CLI pays for its help). Run on a quiet machine; the agent rows need podman.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import median_ms, print_table, temp_home, timed

PYNCHY = str(Path(sys.executable).with_name("pynchy"))
TWO_COMMANDS = """\
import typer
app = typer.Typer(rich_markup_mode="rich")
@app.command()
def one(): "The first."
@app.command()
def two(): "The second."
app()
"""


def run(*argv: str, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run(argv, capture_output=True, env=env)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--no-agent", action="store_true", help="skip the podman rows")
    args = parser.parse_args()
    n = args.repeat
    rows: list[tuple[str, ...]] = []

    def row(what: str, samples: list[float], peer: str, peer_samples: list[float]) -> None:
        ms, peer_ms = median_ms(samples), median_ms(peer_samples)
        rows.append((what, f"{ms:.0f}", peer, f"{peer_ms:.0f}", f"{ms / peer_ms:.2f}x"))

    with temp_home(PYNCHY_PLUGINS="", PYNCHY_MODEL="echo"), tempfile.TemporaryDirectory() as tmp:
        bare = timed(lambda: run(sys.executable, "-c", "pass"), n)
        script = Path(tmp, "two.py")
        script.write_text(TWO_COMMANDS)
        typer_help = timed(lambda: run(sys.executable, str(script), "--help"), n)
        row("pynchy --version", timed(lambda: run(PYNCHY, "--version"), n), "python -c pass", bare)
        row("pynchy --help, kept", timed(lambda: run(PYNCHY, "--help"), n), "typer app", typer_help)

        def help_anew() -> None:
            with tempfile.TemporaryDirectory() as cache:
                run(PYNCHY, "--help", env={**os.environ, "XDG_CACHE_HOME": cache})

        row("pynchy --help, made anew", timed(help_anew, n), "typer app", typer_help)
        row("pynchy groups list", timed(lambda: run(PYNCHY, "groups", "list"), n), "typer app",
            typer_help)  # fmt: skip
        if not args.no_agent:
            from pynchy_cli.core.context import Context

            image = Context().settings.image
            floor = timed(
                lambda: run("podman", "run", "--rm", "--network", "none", image, "python3", "-c",
                            "pass"), n)  # fmt: skip
            cold = timed(lambda: run(PYNCHY, "agent", "run", "--runtime", "podman", "hi"), n)
            row("pynchy agent run (echo, podman)", cold, "bare podman run", floor)
    print_table(f"CLI start-up (median of {n})", rows, ("what", "ms", "peer", "peer ms", "ratio"))


if __name__ == "__main__":
    main()
